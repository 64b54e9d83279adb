/** Sizes in bytes, as the platform counts them (UTF-8), not in UTF-16 code units as `string.length` does. */

const encoder = new TextEncoder();

/** The UTF-8 size of `text` in bytes. */
export function utf8Bytes(text: string): number {
  // Every UTF-16 unit is 1–3 UTF-8 bytes: skip the encoding when the answer is plain ASCII length.
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return encoder.encode(text).byteLength;
  return text.length;
}
