/** The pure parts of browser-rendered layouts: URL rules, origin lists, the setupLayout config, DevTools URL parsing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { layoutUrlProblem, originAllowed, parseOriginList, rendersBuiltinPage, rendersInBrowser } from '../../src/layout/app-url.js';
import { builtinLayoutPageUrl } from '../../src/render/browser/index.js';
import { parseDevToolsUrl } from '../../src/render/browser/chromium-process.js';
import { layoutAppConfig } from '../../src/render/browser/layout-config.js';

describe('layout app URLs', () => {
  it('accepts absolute http(s) URLs only', () => {
    assert.equal(layoutUrlProblem('https://layouts.example.com/app?rec'), undefined);
    assert.equal(layoutUrlProblem('http://127.0.0.1:8080/'), undefined);
    assert.match(String(layoutUrlProblem('file:///etc/passwd')), /http/);
    assert.match(String(layoutUrlProblem('javascript:alert(1)')), /http/);
    assert.match(String(layoutUrlProblem('/relative')), /absolute/);
    assert.match(String(layoutUrlProblem('https://u:p@example.com/')), /user:password/);
  });

  it('restricts origins when a list is given', () => {
    const allow = parseOriginList('https://a.example.com, http://127.0.0.1:9000');
    assert.deepEqual(allow, ['https://a.example.com', 'http://127.0.0.1:9000']);
    assert.equal(originAllowed('https://a.example.com/x/y?z', allow), true);
    assert.equal(originAllowed('https://b.example.com/', allow), false);
    assert.equal(originAllowed('http://127.0.0.1:9001/', allow), false);
    assert.equal(originAllowed('https://b.example.com/', undefined), true);
    assert.equal(originAllowed('ftp://a.example.com/', undefined), false);
    assert.throws(() => parseOriginList('https://a.example.com/path'), /origin/);
    assert.throws(() => parseOriginList('ftp://a.example.com'), /http/);
  });

  it('is read by Config from CALLCAST_LAYOUT_URL_ALLOW, with the readiness timeout', () => {
    const c = loadConfig({ CALLCAST_LAYOUT_URL_ALLOW: 'https://a.example.com', CALLCAST_LAYOUT_READY_TIMEOUT_MS: '5000' });
    assert.deepEqual(c.layoutUrlAllow, ['https://a.example.com']);
    assert.equal(c.layoutReadyTimeoutMs, 5000);
    assert.throws(() => loadConfig({ CALLCAST_LAYOUT_URL_ALLOW: 'nope' }), /CALLCAST_LAYOUT_URL_ALLOW/);
    assert.throws(() => loadConfig({ CALLCAST_LAYOUT_READY_TIMEOUT_MS: 'soon' }), /CALLCAST_LAYOUT_READY_TIMEOUT_MS/);
  });

  it('custom layouts with an app URL and layouts with a stylesheet render in a browser', () => {
    assert.equal(rendersInBrowser({ name: 'custom', external_app_url: 'https://a/', external_css_url: '' }), true);
    assert.equal(rendersInBrowser({ name: 'custom', external_app_url: '', external_css_url: '' }), false);
    assert.equal(rendersInBrowser({ name: 'grid', external_app_url: 'https://a/', external_css_url: '' }), false);
    assert.equal(rendersInBrowser({ name: 'grid', external_app_url: '', external_css_url: 'https://a/x.css' }), true);
    // The built-in page for a stylesheet; an app (which gets the stylesheet as ext_css) for custom with an app URL.
    assert.equal(rendersBuiltinPage({ name: 'spotlight', external_app_url: '', external_css_url: 'https://a/x.css' }), true);
    assert.equal(rendersBuiltinPage({ name: 'custom', external_app_url: '', external_css_url: 'https://a/x.css' }), true);
    assert.equal(rendersBuiltinPage({ name: 'custom', external_app_url: 'https://a/', external_css_url: 'https://a/x.css' }), false);
    assert.equal(rendersBuiltinPage({ name: 'grid', external_app_url: '', external_css_url: '' }), false);
    assert.equal(builtinLayoutPageUrl('http://127.0.0.1:3000/'), 'http://127.0.0.1:3000/layouts/builtin');
  });
});

describe('setupLayout config', () => {
  it('carries the call, credentials, base URL, layout names, options and stylesheet', () => {
    const cfg = layoutAppConfig({
      callCid: 'livestream:show-1',
      layout: {
        name: 'custom',
        external_app_url: 'https://a/',
        external_css_url: 'https://a/x.css',
        options: { 'layout.background_color': '#112233' },
      },
      apiKey: 'key',
      token: 'tok',
      userId: 'callcast-recorder-1',
      baseUrl: 'http://127.0.0.1:3030/',
    });
    assert.deepEqual(cfg, {
      call_id: 'show-1',
      call_type: 'livestream',
      api_key: 'key',
      token: 'tok',
      user_id: 'callcast-recorder-1',
      base_url: 'http://127.0.0.1:3030',
      layout: 'custom',
      screenshare_layout: 'custom',
      options: { 'layout.background_color': '#112233' },
      ext_css: 'https://a/x.css',
      log_level: 'info',
    });
  });
});

describe('Chromium start', () => {
  it('finds the DevTools URL in its stderr', () => {
    assert.equal(
      parseDevToolsUrl('[1:2:ERROR] x\n\nDevTools listening on ws://127.0.0.1:40123/devtools/browser/ab-cd\n'),
      'ws://127.0.0.1:40123/devtools/browser/ab-cd',
    );
    assert.equal(parseDevToolsUrl('nothing yet'), undefined);
  });
});
