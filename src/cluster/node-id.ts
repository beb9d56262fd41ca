/** This node's name in the cluster: CALLCAST_NODE_ID, else host name and the port it listens on. Pure. */
export function defaultNodeId(hostName: string, port: number): string {
  return `${hostName}:${port}`;
}
