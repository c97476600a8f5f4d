// @ts-check
// Countdown to each appointment on the case page: "2 天 3 小时" in the page's language, updated
// every minute. The server renders the time itself; this only adds how long until it.

/** @param {number} ms */
function remaining(ms) {
  const minutes = Math.max(0, Math.round(ms / 60000));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const zh = document.documentElement.lang.startsWith("zh");
  if (days > 0) return zh ? `还有 ${days} 天 ${hours} 小时` : `in ${days} d ${hours} h`;
  if (hours > 0) return zh ? `还有 ${hours} 小时 ${minutes % 60} 分钟` : `in ${hours} h ${minutes % 60} min`;
  return zh ? `还有 ${minutes} 分钟` : `in ${minutes} min`;
}

function tick() {
  for (const el of document.querySelectorAll("[data-countdown]")) {
    const at = Date.parse(el.getAttribute("data-countdown") || "");
    const ms = at - Date.now();
    el.textContent = ms > 0 ? remaining(ms) : el.getAttribute("data-started") || "";
  }
}

tick();
setInterval(tick, 60000);
