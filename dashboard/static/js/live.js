// The live feed (GET /api/v1/events, Server-Sent Events) read with fetch, because EventSource cannot send the
// Authorization header. Reconnects with backoff (1 s doubling to 20 s, with jitter) whenever the stream ends
// or the API is away, and resumes from the last event's id (Last-Event-ID), so nothing is missed or repeated.
import { accessToken, refresh } from "./api.js";

const MAX_BACKOFF_MS = 20000;

export class LiveFeed {
  constructor({ onEvent, onStatus, onReset }) {
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onReset = onReset;
    this.lastId = null;
    this.area = null;
    this.controller = null;
    this.backoff = 1000;
    this.timer = null;
    this.stopped = true;
  }

  start(area) {
    if (this.area !== area) this.lastId = null; // another area's position means nothing here
    this.area = area;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.onStatus("off", "实时连接：已断开");
  }

  retry(why) {
    if (this.stopped) return;
    const wait = Math.min(this.backoff, MAX_BACKOFF_MS) * (0.75 + Math.random() * 0.5);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    this.onStatus("retrying", `实时连接：${why}，${Math.round(wait / 1000)} 秒后重连`);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  async connect() {
    if (this.controller) this.controller.abort();
    const controller = (this.controller = new AbortController());
    const headers = { Accept: "text/event-stream" };
    const token = accessToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (this.lastId) headers["Last-Event-ID"] = this.lastId;
    let answer;
    try {
      answer = await fetch(`/api/v1/events?area_code=${encodeURIComponent(this.area)}`, {
        headers, signal: controller.signal, cache: "no-store",
      });
    } catch {
      if (!controller.signal.aborted) this.retry("服务器不可达");
      return;
    }
    if (answer.status === 401) {
      if (await refresh()) return this.connect();
      return this.stop();
    }
    if (!answer.ok || !answer.body) {
      this.retry(`服务器答复 ${answer.status}`);
      return;
    }
    this.onStatus("live", "实时连接：正常");
    try {
      await this.read(answer.body.getReader(), controller);
      if (!controller.signal.aborted) this.retry("连接已结束");
    } catch {
      if (!controller.signal.aborted) this.retry("连接中断");
    }
  }

  async read(reader, controller) {
    const decoder = new TextDecoder();
    let buffer = "";
    let frame = { id: null, event: "message", data: [] };
    for (;;) {
      const { value, done } = await reader.read();
      if (done || controller.signal.aborted) return;
      buffer += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffer.search(/\r?\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer[nl] === "\r" ? 2 : 1));
        if (line === "") {
          this.dispatch(frame);
          frame = { id: null, event: "message", data: [] };
          continue;
        }
        if (line.startsWith(":")) continue; // a ping
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "id") frame.id = val;
        else if (field === "event") frame.event = val;
        else if (field === "data") frame.data.push(val);
        else if (field === "retry" && /^\d+$/.test(val)) this.backoff = Math.max(1000, Number(val) / 3);
      }
    }
  }

  dispatch(frame) {
    if (frame.id !== null) this.lastId = frame.id;
    if (!frame.data.length) return; // the id alone: where to resume from
    this.backoff = 1000; // the stream delivers again: a later drop starts the backoff anew
    let data;
    try {
      data = JSON.parse(frame.data.join("\n"));
    } catch {
      return;
    }
    if (frame.event === "reset") return this.onReset(data);
    if (frame.event === "dropped") {
      this.retry("推送中断");
      return;
    }
    this.onEvent(frame.event, data);
  }
}
