/** The service's public web configuration (`/web/config.json`): the API key, dev token endpoint. */
import { apiKeyFromUrl } from './credentials.js';

export interface WebConfig {
  apiKey: string;
  devTokens: boolean;
}

export async function loadWebConfig(): Promise<WebConfig> {
  let apiKey = apiKeyFromUrl(location.hash, location.search);
  let devTokens = false;
  try {
    const res = await fetch('/web/config.json', { headers: { Accept: 'application/json' } });
    if (res.ok) {
      const body = (await res.json()) as { api_key?: unknown; dev_tokens?: unknown };
      if (!apiKey && typeof body.api_key === 'string') apiKey = body.api_key;
      devTokens = body.dev_tokens === true;
    }
  } catch {
    // Without the config the page still works when the URL carries api_key.
  }
  if (!apiKey) throw new Error('the API key is unknown: open the page from the service, or add #api_key=... to its address');
  return { apiKey, devTokens };
}
