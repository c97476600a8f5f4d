// @ts-check
/** Short tones from an oscillator (no audio file to load): knocks, calls, the speaker test. */

/** @type {AudioContext | null} */
let context = null;

export function audioContext() {
  const Ctx = window.AudioContext || /** @type {any} */ (window).webkitAudioContext;
  if (!Ctx) return null;
  if (!context) context = new Ctx();
  return context;
}

/** Browsers keep an AudioContext suspended until the page has had a gesture: resume on the first. */
export function unlockOnFirstGesture() {
  const unlock = () => {
    const ctx = audioContext();
    if (ctx && ctx.state === "suspended") ctx.resume().catch(() => {});
  };
  for (const type of ["pointerdown", "keydown"]) {
    document.addEventListener(type, unlock, { once: true, capture: true });
  }
}

/**
 * Plays a two-note chime now, or not at all: a chime refused now (no gesture yet) must not ring
 * late, at the next tap, so it plays only if the context runs within a second. Resolves to
 * whether it rang. @param {number[]} notes
 */
export async function chime(notes = [880, 660]) {
  const ctx = audioContext();
  if (!ctx) return false;
  if (ctx.state !== "running") {
    const asked = performance.now();
    try {
      await ctx.resume();
    } catch {
      return false;
    }
    if (performance.now() - asked >= 1000 || ctx.state !== "running") return false;
  }
  tones(ctx, ctx.destination, notes);
  return true;
}

/** @param {AudioContext} ctx @param {AudioNode} out @param {number[]} notes */
export function tones(ctx, out, notes) {
  const start = ctx.currentTime + 0.01;
  notes.forEach((frequency, i) => {
    const at = start + i * 0.18;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.3);
    osc.connect(gain).connect(out);
    osc.start(at);
    osc.stop(at + 0.32);
  });
}
