/** A webhook URL for logs and operators: no credentials, query or fragment (they may carry tokens). Pure. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '<invalid url>';
  }
}
