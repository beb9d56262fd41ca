/** A JSON object as it travels on the wire (request bodies, responses, event payloads). */
export type JsonObject = Record<string, unknown>;
