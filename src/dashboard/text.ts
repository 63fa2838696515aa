/**
 * Agent text as the page shows it: verbatim, except for the two things HTML cannot carry. U+0000 (which the
 * HTML parser drops) becomes U+2400 SYMBOL FOR NULL, and a lone surrogate (which UTF-8 cannot encode) becomes
 * U+FFFD REPLACEMENT CHARACTER. Escaping is the JSX renderer's job; this only makes the text representable.
 */
export function visibleText(text: string): string {
  const withoutNul = text.includes('\u0000') ? text.replaceAll('\u0000', '\u2400') : text;
  return withoutNul.isWellFormed() ? withoutNul : withoutNul.toWellFormed();
}

/** Only http(s) URLs may become links; anything else (`javascript:`, `data:`, relative text) is shown as text. */
export function linkableUrl(text: string): string | null {
  if (!text.isWellFormed() || /[\s\p{Cc}]/u.test(text)) return null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
}
