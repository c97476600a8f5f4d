// @ts-check
/**
 * A connection to one of the server's aiortc peers (the echo of the network check, the
 * recorder): the server does not trickle, so the offer goes with every candidate, by POST.
 */

/**
 * Offers `pc` to the server peer at `path` and applies its answer.
 * @param {RTCPeerConnection} pc @param {string} path
 */
export async function offerToServer(pc, path) {
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const offer = /** @type {RTCSessionDescription} */ (pc.localDescription);
  const csrf = /** @type {HTMLMetaElement | null} */ (document.querySelector('meta[name="csrf-token"]'));
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf?.content || "" },
    body: JSON.stringify({ sdp: offer.sdp, type: offer.type }),
  });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  await pc.setRemoteDescription(await response.json());
}

/** Every candidate, or what there is after 2 s. @param {RTCPeerConnection} pc */
function gathered(pc) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve(undefined);
    pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && resolve(undefined));
    setTimeout(resolve, 2000);
  });
}
