// `ng serve` proxies /v1 (the OpenAI-compatible API the app calls) to the rxllm gateway:
// `npx rxllm serve` on 127.0.0.1:8787 by default; RXLLM_URL points elsewhere. The browser sees one
// origin (this dev server), so no CORS, and the gateway's token, if it has one (RXLLM_TOKEN), is
// added here: it never reaches the browser.
const target = process.env.RXLLM_URL ?? 'http://127.0.0.1:8787';
const token = process.env.RXLLM_TOKEN;

/** Whether a request came from this dev server's own page (not another site's, not a rebound DNS name). */
export function fromOwnPage(req) {
  const origin = req.headers.origin;
  if (origin === undefined) return true; // not sent by a browser page (curl, a script)
  let host;
  try {
    host = new URL(origin).host;
  } catch {
    return false; // `Origin: null`
  }
  const hostname = new URL(`http://${req.headers.host}`).hostname.replace(/^\[|\]$/g, '');
  const local = hostname === 'localhost' || /^[\d.]+$/.test(hostname) || hostname.includes(':');
  return host === req.headers.host && local;
}

/**
 * Runs on every proxied request (http-proxy's `proxyReq` event). Without a token the gateway
 * refuses browser calls whose Origin is not its own (so no web page can spend your provider key
 * through your browser); the page's origin is this dev server, so for its own page the proxy
 * presents the gateway's origin. Requests from any other page keep their Origin and get the 403.
 */
export function onProxyReq(proxyReq, req) {
  if (!fromOwnPage(req)) return;
  if (req.headers.origin !== undefined) proxyReq.setHeader('origin', new URL(target).origin);
  if (token) proxyReq.setHeader('authorization', `Bearer ${token}`);
}

export default {
  '/v1': {
    target,
    changeOrigin: true,
    configure: (proxy) => proxy.on('proxyReq', onProxyReq),
  },
};
