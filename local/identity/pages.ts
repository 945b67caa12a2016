/**
 * The local sign-in pages: plain HTML, no script, one form button per roster user. Every value written
 * into the page is escaped; the style sheet is allowed by its hash only.
 */
import { createHash } from 'node:crypto';
import type { RosterUser } from '../../runtime/control-plane/roster';

const STYLE = `body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
ul{list-style:none;padding:0}li{margin:.5rem 0}button{font-size:1rem;padding:.5rem 1rem;cursor:pointer}
pre{white-space:pre-wrap;word-break:break-all;background:#f4f4f4;padding:.75rem}`;
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface Page {
  readonly html: string;
  /** Content-Security-Policy for the page; form targets and redirects it may follow are listed. */
  readonly csp: string;
}

function page(title: string, body: string, formTargets: readonly string[] = []): Page {
  const html = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main>
<h1>${escapeHtml(title)}</h1>
${body}
</main></body>
</html>
`;
  const csp = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self'${formTargets.map((t) => ` ${t}`).join('')}; frame-ancestors 'none'; base-uri 'none'`;
  return { html, csp };
}

/**
 * The list of roster users. `action` is where the chosen user is posted; `hidden` carries an
 * authorization request's parameters through the form; `redirectOrigin` is where the answer redirects.
 */
export function signInPage(
  users: readonly RosterUser[],
  action: string,
  hidden: Readonly<Record<string, string>> = {},
  redirectOrigin?: string,
): Page {
  const fields = Object.entries(hidden)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
  const items = users
    .map(
      (u) =>
        `<li><button type="submit" name="user" value="${escapeHtml(u.id)}">Sign in as ${escapeHtml(u.id)} (${escapeHtml(u.email)})</button></li>`,
    )
    .join('\n');
  const body = `<p>Local mode: choose a user of the roster. There are no passwords; this page answers only on this machine.</p>
<form method="post" action="${escapeHtml(action)}">
${fields}
<ul aria-label="Roster users">
${items}
</ul>
</form>`;
  return page('Sign in to Cubicle (local)', body, redirectOrigin ? [redirectOrigin] : []);
}

/** After a plain sign-in: the token, for scripts and curl. */
export function tokenPage(user: RosterUser, token: string, baseUrl: string, expiresIn: number): Page {
  const body = `<p>Signed in as <strong>${escapeHtml(user.id)}</strong>. This access token is valid for ${Math.round(expiresIn / 60)} minutes:</p>
<pre aria-label="Access token">${escapeHtml(token)}</pre>
<p>Example:</p>
<pre>curl -H "Authorization: Bearer $TOKEN" ${escapeHtml(baseUrl)}/v1/agents</pre>
<p><a href="/local/sign-in">Sign in as someone else</a></p>`;
  return page('Signed in (local)', body);
}

export function errorPage(message: string): Page {
  return page(
    'Sign-in failed',
    `<p role="alert">${escapeHtml(message)}</p><p><a href="/local/sign-in">Back to sign-in</a></p>`,
  );
}
