// CJK: Han (incl. extension A and compatibility ideographs), kana, Hangul, CJK punctuation and
// full-width forms: U+3000-30FF, U+3400-4DBF, U+4E00-9FFF, U+AC00-D7AF, U+F900-FAFF, U+FF00-FFEF.

/**
 * The CJK and other characters of `text` (see `countTextChars`), added into `into`: no object per
 * call, since a stream counts every chunk. Internal (not exported from the package).
 */
export function addTextChars(text: string, into: { cjk: number; others: number }): void {
  // One pass, no allocation (it runs on every streamed chunk for trackUsage): the CJK ranges are
  // all in the BMP, and a surrogate pair is one character (its low half is not counted again).
  let cjk = 0;
  let chars = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const pairEnd =
      c >= 0xdc00 &&
      c <= 0xdfff &&
      i > 0 &&
      text.charCodeAt(i - 1) >= 0xd800 &&
      text.charCodeAt(i - 1) <= 0xdbff;
    if (pairEnd) continue;
    chars++;
    if (
      (c >= 0x3000 && c <= 0x30ff) ||
      (c >= 0x3400 && c <= 0x4dbf) ||
      (c >= 0x4e00 && c <= 0x9fff) ||
      (c >= 0xac00 && c <= 0xd7af) ||
      (c >= 0xf900 && c <= 0xfaff) ||
      (c >= 0xff00 && c <= 0xffef)
    )
      cjk++;
  }
  into.cjk += cjk;
  into.others += chars - cjk;
}
