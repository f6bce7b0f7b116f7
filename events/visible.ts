// Text that came from a workload (an onboot entry's line, an sd_notify
// STATUS=, a probe's stderr) goes into keel's own messages, and so to the
// console and to a person's terminal through keel events and keel ps. There a
// control character is a command, not text: a window title set, the screen
// cleared, colours left on. This makes each one visible as \xHH instead.

/** C0 controls but tab and newline, DEL, and C1 controls (U+0080-U+009F: CSI is one of them). */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/** `text` with its control characters written out (\x1b), newlines and tabs kept. */
export function visible(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
