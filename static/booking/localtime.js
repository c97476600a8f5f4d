// @ts-check
// A party abroad sees their own local time next to Beijing time. The server renders every time
// in Asia/Shanghai; this adds "（您的当地时间 …）" to each <time data-local> when the browser's
// zone differs. Without JavaScript the Beijing time alone stays.

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const lang = document.documentElement.lang || "zh-CN";

if (zone && zone !== "Asia/Shanghai" && zone !== "Asia/Chongqing" && zone !== "PRC") {
  const format = new Intl.DateTimeFormat(lang, {
    month: "short", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit",
    timeZone: zone,
  });
  for (const el of document.querySelectorAll("time[data-local]")) {
    const at = new Date(el.getAttribute("datetime") || "");
    if (Number.isNaN(at.getTime())) continue;
    const note = document.createElement("span");
    note.className = "local-time";
    const label = el.getAttribute("data-local") || "";
    note.textContent = ` (${label} ${format.format(at)}, ${zone})`;
    el.after(note);
  }
}
