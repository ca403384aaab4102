// The captioning page: microphone -> AudioWorklet (worklet.js) -> websocket -> live captions.
//
// The page speaks the native protocol of docs/protocol.md: on open an optional {"type":"auth"}
// and a config with the AudioContext's true sample rate and pcm_f32le mono (and, as "hotwords",
// the names and terms in "Words to expect"), then 50 ms binary packets in capture order, and
// {"type":"eof"} on Stop; the server resamples to 16 kHz and sends
// partials (stable text + an unstable tail) and finals (text, start, end, word timings).
// The websocket URL is relative to the page, so http -> ws:, https -> wss: (behind a TLS proxy)
// and a proxy that serves the page under a path prefix also serves the stream under it.
//
// Resume (docs/protocol.md, "Resume"): the config asks for acks with a resume point of {0, 0};
// the page keeps the audio the server has not acknowledged as final, and when the connection
// ends abnormally it connects to the same URL again (back-off with jitter, a bounded number of
// tries), opens a session at the last ack, sends the kept audio again and carries on. Finals and
// partials of segments already shown are dropped, so the reader sees one caption list.

const PACKET_SECONDS = 0.05; // audio per websocket message; the protocol asks 20-200 ms
const STREAM_PATH = "v1/stream"; // relative to the page, see above
const STOP_TIMEOUT_MS = 20_000; // after eof, how long the last finals may take (a busy server has up to 10 s queued)
const HEALTH_POLL_MS = 2_000; // while the server loads its model
const SLOW_WARNING_SECONDS = 2; // audio waiting in the browser's send buffer before we say so...
const MAX_UNSENT_SECONDS = 30; // ...and before new audio is dropped: live captions would be useless by then
const BYTES_PER_SAMPLE = 4; // pcm_f32le
const NOTICE_MS = 4_000; // how long a transient notice (copied, lag) stays
const CUE_MAX_SECONDS = 6; // a subtitle cue covers at most this much speech...
const LINE_CHARS = 42; // ...in at most two lines of this many characters (the usual subtitle limit)
const CUE_MAX_CHARS = 2 * LINE_CHARS;
const CUE_MIN_SECONDS = 1; // short cues stay up this long, unless the next one starts sooner
const SCROLL_SLACK_PX = 48; // "at the bottom" for keeping the newest caption in view
// Resume. The page keeps at most this much audio the server has not acknowledged (the Python
// client's limit too): servers ack every final and every second of silence, and end a segment
// after 20 s of speech, so only a server far behind (or a reconnection that takes this long)
// reaches it, and then the page stops with an error rather than lose words silently.
const RESUME_BUFFER_SECONDS = 60;
const RESUME_ATTEMPTS = 10; // connection tries after an abnormal close before the page gives up
const BACKOFF_FIRST_MS = 250; // the wait before the second try, doubled each try...
const BACKOFF_MAX_MS = 4_000; // ...up to this; each wait is jittered to 50-100% of it, so the tries
// span 12-24 s: a restarted server has time to load its model, and many pages do not come back at once
const RESUMABLE_CLOSES = new Set([1001, 1006, 1011, 1012, 1013]); // streamer/wire/protocol.py

// Close codes of docs/protocol.md, in words. Not here: 1000 (a normal end) and 1006 (no close
// frame: the connection was lost, or the handshake was refused before it opened).
const CLOSE_REASONS = {
  1001: "The server is shutting down or restarting.",
  1007: "The server refused the audio format or the words to expect.",
  1008: "This server needs a token. Enter it under \u201cServer token\u201d and press Retry.",
  1009: "A message was too large for the server.",
  1011: "The server had an internal error in this session.",
  1012: "The server is restarting.",
  1013: "The server is overloaded. Try again in a moment.",
  4001: "The server ended the session because no audio arrived for a while.",
  4002: "The session reached the server's maximum length.",
};

// Why a websocket handshake was refused, by the reason the server counts in /metrics.
const REFUSALS = {
  capacity: "The server is full: it has as many listeners as it allows (HTTP 503). Try again in a moment.",
  origin:
    "The server refused this page's origin (HTTP 403). If a proxy serves this page, it must pass the " +
    "Host header on (nginx: proxy_set_header Host $host), or start the server with --allowed-origin.",
  token: "The server refused the token (HTTP 401). Check it under \u201cServer token\u201d.",
  loading: "The server is still loading its model (HTTP 503). Try again in a moment.",
  shutting_down: "The server is shutting down (HTTP 503).",
};

const $ = (id) => document.getElementById(id);
const ui = {
  start: $("start"),
  stop: $("stop"),
  device: $("device"),
  large: $("large"),
  statusText: $("status-text"),
  problem: $("problem"),
  problemText: $("problem-text"),
  retry: $("retry"),
  captions: $("captions"),
  finals: $("finals"),
  partial: $("partial"),
  stable: document.querySelector("#partial .stable"),
  unstable: document.querySelector("#partial .unstable"),
  empty: $("empty"),
  tokenBox: $("token-box"),
  token: $("token"),
  words: $("words"),
  format: $("format"),
  copy: $("copy"),
  download: $("download"),
  clear: $("clear"),
  notice: $("notice"),
};

// ----- the transcript: finals on one clock, "seconds since captioning began" ----------------

const transcript = []; // {text, start, end, words: [{word, start, end}]}
let clockOrigin = null; // performance.now() when this transcript's first audio was sent

// A final from the server, moved from its session's stream time to the transcript's clock.
function onTranscriptClock(final, offset) {
  return {
    text: final.text,
    start: final.start + offset,
    end: final.end + offset,
    words: (final.words || []).map((w) => ({ word: w.word, start: w.start + offset, end: w.end + offset })),
  };
}

function pad(n, width = 2) {
  return String(n).padStart(width, "0");
}

// 83.4 -> "01:23" (and "1:01:23" past an hour): the time shown next to each final.
function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(s / 3600);
  const rest = `${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  return hours ? `${hours}:${rest}` : rest;
}

// 83.4 -> "00:01:23,400" (SRT) or "00:01:23.400" (WebVTT).
function timestamp(seconds, separator) {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const s = Math.floor(ms / 1000);
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}${separator}${pad(ms % 1000, 3)}`;
}

// Subtitle cues from the finals' word timings: at most CUE_MAX_CHARS and CUE_MAX_SECONDS each.
function cues(finals) {
  const out = [];
  for (const final of finals) {
    const words = final.words.length ? final.words : [{ word: final.text, start: final.start, end: final.end }];
    let cue = null;
    for (const w of words) {
      if (cue && (cue.text.length + 1 + w.word.length > CUE_MAX_CHARS || w.end - cue.start > CUE_MAX_SECONDS)) {
        out.push(cue);
        cue = null;
      }
      if (cue) {
        cue.text += ` ${w.word}`;
        cue.end = w.end;
      } else {
        cue = { start: w.start, end: w.end, text: w.word };
      }
    }
    if (cue) out.push(cue);
  }
  // Keep short cues up long enough to read, without overlapping the next one.
  out.forEach((cue, i) => {
    const next = i + 1 < out.length ? out[i + 1].start : Infinity;
    cue.end = Math.max(cue.end, Math.min(cue.start + CUE_MIN_SECONDS, next));
  });
  return out;
}

// One or two subtitle lines: a long cue breaks at the space nearest its middle.
function lines(text) {
  if (text.length <= LINE_CHARS) return text;
  const middle = text.length / 2;
  let best = -1;
  for (let i = text.indexOf(" "); i !== -1; i = text.indexOf(" ", i + 1)) {
    if (best === -1 || Math.abs(i - middle) < Math.abs(best - middle)) best = i;
  }
  return best === -1 ? text : `${text.slice(0, best)}\n${text.slice(best + 1)}`;
}

const FORMATS = {
  txt: {
    type: "text/plain",
    render: (finals) => finals.map((f) => `[${clock(f.start)}] ${f.text}\n`).join(""),
  },
  srt: {
    type: "application/x-subrip",
    render: (finals) =>
      cues(finals)
        .map((c, i) => `${i + 1}\n${timestamp(c.start, ",")} --> ${timestamp(c.end, ",")}\n${lines(c.text)}\n`)
        .join("\n"),
  },
  vtt: {
    type: "text/vtt",
    render: (finals) =>
      "WEBVTT\n\n" +
      cues(finals)
        .map((c) => `${timestamp(c.start, ".")} --> ${timestamp(c.end, ".")}\n${lines(c.text)}\n`)
        .join("\n"),
  },
};

// ----- the audio the server has not acknowledged --------------------------------------------

// The stream's audio from the last ack on, as sent: {first (frame), data (Float32Array)} blocks.
class Unacknowledged {
  constructor(limitFrames) {
    this.limitFrames = limitFrames;
    this.blocks = [];
    this.start = 0; // first frame not acknowledged
    this.end = 0; // frames of the stream so far
  }

  // Keep a block; false (keeping nothing) when that would hold more than the limit.
  append(data) {
    if (this.end + data.length - this.start > this.limitFrames) return false;
    this.blocks.push({ first: this.end, data });
    this.end += data.length;
    return true;
  }

  // Forget the audio before frame `offset`.
  acknowledge(offset) {
    this.start = Math.max(this.start, Math.min(offset, this.end));
    while (this.blocks.length && this.blocks[0].first + this.blocks[0].data.length <= this.start) this.blocks.shift();
  }

  // The kept audio from frame `offset` on, in blocks to send.
  after(offset) {
    return this.blocks
      .filter((b) => b.first + b.data.length > offset)
      .map((b) => (b.first >= offset ? b.data : b.data.subarray(offset - b.first)));
  }
}

// ----- captions on screen --------------------------------------------------------------------

function atBottom() {
  const c = ui.captions;
  return c.scrollHeight - c.scrollTop - c.clientHeight < SCROLL_SLACK_PX;
}

// Keep the newest words in view, unless the reader scrolled up to read something older.
function showing(update) {
  const follow = atBottom();
  update();
  ui.empty.hidden = transcript.length > 0 || !ui.partial.hidden;
  if (follow) ui.captions.scrollTop = ui.captions.scrollHeight;
}

function showPartial(partial) {
  showing(() => {
    ui.stable.textContent = partial.stable;
    ui.unstable.textContent = partial.unstable;
    ui.partial.hidden = partial.text === "";
  });
}

function clearPartial() {
  showing(() => {
    ui.stable.textContent = ui.unstable.textContent = "";
    ui.partial.hidden = true;
  });
}

function addFinal(final) {
  if (!final.text) return;
  transcript.push(final);
  showing(() => {
    const item = document.createElement("li");
    const time = document.createElement("time");
    time.dateTime = `PT${final.start.toFixed(2)}S`;
    time.textContent = clock(final.start);
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = final.text;
    item.append(time, " ", text);
    ui.finals.append(item);
  });
  updateTranscriptButtons();
}

function updateTranscriptButtons() {
  for (const button of [ui.copy, ui.download, ui.clear]) button.disabled = transcript.length === 0;
}

// ----- status, problems, notices -------------------------------------------------------------

const BUSY = new Set(["connecting", "listening", "reconnecting", "stopping"]);
let restoreFocus = false; // Start or Stop had keyboard focus and lost it by being disabled

function setState(state, text) {
  restoreFocus ||= document.activeElement === ui.start || document.activeElement === ui.stop;
  document.body.dataset.state = state;
  ui.statusText.textContent = text;
  ui.start.disabled = BUSY.has(state);
  ui.stop.disabled = state !== "connecting" && state !== "listening" && state !== "reconnecting";
  const lost = document.activeElement === document.body || document.activeElement?.disabled;
  const target = !ui.stop.disabled ? ui.stop : !ui.start.disabled ? ui.start : null;
  if (restoreFocus && target && (lost || document.activeElement === ui.start || document.activeElement === ui.stop)) {
    target.focus();
    restoreFocus = false;
  } else if (!lost) {
    restoreFocus = false; // the reader has moved on; leave their focus alone
  }
}

function showProblem(text, { retry = true } = {}) {
  ui.problemText.textContent = text;
  ui.retry.hidden = !retry;
  ui.problem.hidden = false;
  if (retry) ui.retry.focus(); // keyboard users land on the way out
}

function hideProblem() {
  ui.problem.hidden = true;
}

let noticeTimer = 0;
function notice(text) {
  ui.notice.textContent = text;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (ui.notice.textContent = ""), NOTICE_MS);
}

// ----- microphone ----------------------------------------------------------------------------

function microphoneProblem(error) {
  switch (error.name) {
    case "NotAllowedError":
      return (
        "Microphone access was denied. Allow the microphone for this site (the icon at the left " +
        "of the address bar), then press Retry."
      );
    case "NotFoundError":
      return "No microphone was found. Connect one and press Retry.";
    case "NotReadableError":
      return "The microphone could not be opened: another application may be using it.";
    case "OverconstrainedError":
      return "The chosen microphone is no longer available. Pick another one and press Retry.";
    default:
      return `The microphone could not be opened (${error.name}: ${error.message}).`;
  }
}

async function openMicrophone(deviceId) {
  return navigator.mediaDevices.getUserMedia({
    audio: {
      deviceId: deviceId ? { exact: deviceId } : undefined,
      channelCount: 1,
      // The recognizer wants the room as it sounds: no gain riding, gating or echo filtering.
      echoCancellation: false,
      noiseSuppression: false,
      autoGainControl: false,
    },
  });
}

// Fill the picker. Browsers hide labels until the microphone is allowed, so this runs again then.
async function refreshDevices() {
  if (!navigator.mediaDevices?.enumerateDevices) return;
  let devices;
  try {
    devices = await navigator.mediaDevices.enumerateDevices();
  } catch {
    return;
  }
  const inputs = devices.filter((d) => d.kind === "audioinput" && d.deviceId && d.deviceId !== "default");
  const chosen = ui.device.value;
  ui.device.replaceChildren(
    new Option("Default microphone", ""),
    ...inputs.map((d, i) => new Option(d.label || `Microphone ${i + 1}`, d.deviceId)),
  );
  ui.device.value = inputs.some((d) => d.deviceId === chosen) ? chosen : "";
}

// ----- a session: microphone, audio graph and websocket --------------------------------------

let session = null; // the running one, or null
let sessions = 0; // sessions started, to tell a late worklet reply from an earlier one

function streamUrl() {
  const url = new URL(STREAM_PATH, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.search = url.hash = "";
  return url.href;
}

async function start() {
  if (session) return;
  hideProblem();
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    setState("error", "Microphone unavailable");
    showProblem(
      "Browsers only give the microphone to secure pages. Open this page over https:// " +
        "(see docs/browser.md) or on http://localhost.",
      { retry: false },
    );
    return;
  }
  const s = {
    id: ++sessions,
    stream: null,
    context: null,
    node: null,
    source: null,
    ws: null,
    offset: 0, // this stream's time 0 on the transcript's clock
    unacked: null, // Unacknowledged, once the server confirms it sends acks
    acked: { offset: 0, segment: 0 }, // the server's last ack: where a resumed session starts
    delivered: 0, // segments whose final is shown (or was empty)
    resumes: 0, // sessions this stream was resumed in
    reconnecting: false, // audio is kept, not sent, until a resumed session takes it
    eof: false, // eof was sent (or is due): a resumed session sends it again after the audio
  };
  session = s;
  setState("connecting", "Asking for the microphone\u2026");
  try {
    s.stream = await openMicrophone(ui.device.value);
  } catch (error) {
    session = null;
    setState("error", "Microphone unavailable");
    showProblem(microphoneProblem(error));
    return;
  }
  refreshDevices();
  watchTrack(s);
  if (s.stopping) return finish(s, "stopped", "Stopped.");
  try {
    ({ context: s.context, node: s.node } = await audioGraph());
  } catch (error) {
    finish(s, "error", "Audio unavailable");
    showProblem(`The browser could not start audio capture (${error.name}: ${error.message}).`);
    return;
  }
  s.node.port.postMessage({ type: "reset" }); // drop a packet begun by an earlier session
  s.node.port.onmessage = (message) => onWorkletMessage(s, message.data);
  connect(s);
}

// The AudioContext and the capture worklet, made at the first Start (browsers want a click
// before audio runs) and kept, suspended between sessions: a Retry then needs nothing from
// the server but the websocket.
let graph = null;

async function audioGraph() {
  if (!graph) {
    const context = new AudioContext({ latencyHint: "interactive" });
    try {
      await context.audioWorklet.addModule("worklet.js");
    } catch (error) {
      context.close();
      throw error;
    }
    const node = new AudioWorkletNode(context, "pcm-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      channelCount: 1, // Web Audio down-mixes the microphone to mono before the worklet
      channelCountMode: "explicit",
      channelInterpretation: "speakers",
      processorOptions: { packetFrames: Math.round(context.sampleRate * PACKET_SECONDS) },
    });
    // The processor writes nothing, so this is silent; a node wired to the destination is
    // rendered by every browser, whatever it does with nodes that have no outputs.
    node.connect(context.destination);
    graph = { context, node };
  }
  await graph.context.resume();
  return graph;
}

async function connect(s) {
  setState("connecting", "Connecting to the server\u2026");
  const before = await refusalCounts(); // to tell a refusal's reason afterwards
  if (s.stopping) return finish(s, "stopped", "Stopped.");
  const ws = new WebSocket(streamUrl());
  ws.binaryType = "arraybuffer";
  s.ws = ws;
  ws.onopen = () => {
    s.opened = true;
    const token = ui.token.value.trim();
    if (token) ws.send(JSON.stringify({ type: "auth", token }));
    ws.send(configMessage(s, { offset: 0, segment: 0 })); // a fresh stream; asks for acks
  };
  ws.onmessage = (message) => onEvent(s, JSON.parse(message.data));
  ws.onclose = (event) => onClose(s, event, before);
}

function configMessage(s, resume) {
  const hotwords = expectedWords();
  return JSON.stringify({
    type: "config",
    sample_rate: s.context.sampleRate,
    encoding: "pcm_f32le",
    channels: 1,
    resume,
    ...(hotwords.length ? { hotwords } : {}),
  });
}

// "Words to expect": names and terms the server's decoder favours for this stream (the config's
// "hotwords", docs/protocol.md). Kept in this browser's localStorage, so they are there next time.
// An entry "Siobhan = she vawn / shivawn" gives spellings of how a name sounds ("sounds_like").
const WORDS_KEY = "hubert-stream.words";

function expectedWords() {
  const tidy = (text) => text.trim().replace(/\s+/g, " ");
  const hotwords = new Map();
  for (const entry of ui.words.value.split(/[,\n]/)) {
    const [phrase, sounds = ""] = entry.split("=", 2).map(tidy);
    if (!phrase || hotwords.has(phrase)) continue;
    const soundsLike = sounds.split("/").map(tidy).filter(Boolean);
    hotwords.set(phrase, soundsLike.length ? { phrase, sounds_like: soundsLike } : { phrase });
  }
  return [...hotwords.values()];
}

function restoreWords() {
  try {
    ui.words.value = localStorage.getItem(WORDS_KEY) ?? "";
  } catch {
    // storage refused (a privacy setting): the field starts empty and still works for this visit
  }
  if (ui.words.value) ui.words.closest("details").open = true;
}

function keepWords() {
  try {
    localStorage.setItem(WORDS_KEY, ui.words.value);
  } catch {
    // storage refused: the words still go with this visit's streams
  }
}

function onEvent(s, event) {
  switch (event.type) {
    case "ready":
      if (s.resumes) {
        // The session's first ready greets; the one that answers the config must echo the resume
        // point: a server without resume would start the stream's clock and segments again.
        if (!event.resume && ++s.plainReadies > 1) refuseResume(s);
        break;
      }
      // The server confirms each config with a ready at the new rate; audio starts then. A ready
      // that echoes the resume point promises acks: keep the audio until they cover it.
      if (!s.source && !s.stopping && event.sample_rate === Math.round(s.context.sampleRate)) {
        if (event.resume) s.unacked = new Unacknowledged(Math.round(RESUME_BUFFER_SECONDS * s.context.sampleRate));
        startAudio(s);
      }
      break;
    case "ack":
      s.acked = { offset: event.offset, segment: event.segment };
      s.unacked?.acknowledge(event.offset);
      break;
    case "partial":
      if (event.segment < s.delivered) break; // a resumed session recognizing a segment already shown
      showPartial(event);
      break;
    case "final":
      if (event.segment < s.delivered) break; // shown before the connection broke: the same words again
      s.delivered = event.segment + 1;
      clearPartial();
      addFinal(onTranscriptClock(event, s.offset));
      break;
    case "lag":
      notice(`Captions are running ${event.seconds.toFixed(1)} s behind: the server is busy.`);
      break;
    case "error":
      s.error = event; // the close that follows says what happens; bad_audio/bad_message carry on
      if (event.code === "bad_audio" || event.code === "bad_message") notice(`Server: ${event.message}`);
      break;
    case "done":
      s.done = true;
      break;
  }
}

function startAudio(s) {
  const now = performance.now();
  if (clockOrigin === null) clockOrigin = now;
  s.offset = (now - clockOrigin) / 1000; // this session's stream time 0 on the transcript's clock
  s.source = s.context.createMediaStreamSource(s.stream);
  s.source.connect(s.node);
  setState("listening", "Listening");
}

function onWorkletMessage(s, data) {
  if (data instanceof Float32Array) {
    if (s.released) return;
    if (s.unacked) {
      // Every packet is part of the stream, sent now or replayed by a resumed session.
      if (!s.unacked.append(data)) return tooFarBehind(s);
      if (!s.reconnecting && s.ws.readyState === WebSocket.OPEN) {
        tooSlow(s, data.length);
        s.ws.send(data);
      }
    } else if (s.ws?.readyState === WebSocket.OPEN && !tooSlow(s, data.length)) {
      s.ws.send(data); // in capture order
    }
  } else if (data.type === "flushed" && data.session === s.id) {
    s.eof = true;
    if (!s.reconnecting && s.ws?.readyState === WebSocket.OPEN) s.ws.send(JSON.stringify({ type: "eof" }));
    releaseAudio(s);
  }
}

// The browser queues whatever the connection cannot take yet, without limit. Keep that bounded:
// say so when audio waits, and drop new audio (saying how much) past MAX_UNSENT_SECONDS.
// A resumable stream drops nothing here: its unacknowledged audio, which holds the unsent audio,
// has its own limit (tooFarBehind).
function tooSlow(s, frames) {
  const unsent = s.ws.bufferedAmount / (BYTES_PER_SAMPLE * s.context.sampleRate);
  const drop = unsent > MAX_UNSENT_SECONDS && !s.unacked;
  if (drop) s.dropped = (s.dropped || 0) + frames / s.context.sampleRate;
  const now = performance.now();
  if (unsent > SLOW_WARNING_SECONDS && !(now - s.slowNoticeAt < 1000)) {
    s.slowNoticeAt = now; // at most once a second: the notice is a live region
    notice(
      drop
        ? `The connection cannot keep up: ${s.dropped.toFixed(0)} s of audio were not captioned.`
        : `The connection is slow: ${unsent.toFixed(0)} s of audio are waiting to be sent.`,
    );
  }
  return drop;
}

function stop() {
  const s = session;
  if (!s || s.stopping) return;
  s.stopping = true;
  if (s.reconnecting) {
    // The last words go to the server that takes the stream back, then eof (resumeOn).
    setState("stopping", "Finishing the last words once the server is back\u2026");
    s.source.disconnect();
    s.node.port.postMessage({ type: "flush", session: s.id });
  } else if (s.source && s.ws.readyState === WebSocket.OPEN) {
    setState("stopping", "Finishing the last words\u2026");
    s.source.disconnect();
    s.node.port.postMessage({ type: "flush", session: s.id }); // the last packet, then eof (onWorkletMessage)
    s.stopTimer = setTimeout(() => s.ws.close(), STOP_TIMEOUT_MS);
  } else if (s.ws) {
    s.ws.close(); // still connecting: nothing was said yet
  } // else: start() is waiting for the microphone and checks s.stopping when it gets it
}

function watchTrack(s) {
  for (const track of s.stream.getAudioTracks()) {
    track.onended = () => {
      if (session !== s || s.stopping) return;
      stop();
      showProblem("The microphone stopped (was it unplugged?). The captions so far were kept.");
    };
  }
}

function releaseAudio(s) {
  if (s.released) return;
  s.released = true;
  s.source?.disconnect();
  s.stream?.getTracks().forEach((track) => track.stop());
  s.context?.suspend(); // kept for the next Start; suspended, it costs nothing
}

function finish(s, state, text) {
  clearTimeout(s.stopTimer);
  s.reconnecting = false;
  releaseAudio(s);
  if (session === s) session = null;
  setState(state, text);
}

async function onClose(s, event, before) {
  clearPartial();
  if (session !== s) return; // ended by the page (tooFarBehind, refuseResume)
  if (s.unacked && !s.done && RESUMABLE_CLOSES.has(event.code)) {
    reconnect(s);
    return;
  }
  if (s.done && event.code === 1000) {
    finish(s, "stopped", `Stopped (${transcript.length} ${transcript.length === 1 ? "line" : "lines"})`);
    return;
  }
  if (s.stopping && (!s.opened || s.stopTimer === undefined)) {
    finish(s, "stopped", "Stopped.");
    return;
  }
  if (!s.opened) {
    // Browsers hide the HTTP status of a refused handshake; ask the server what it refused
    // first, so that the error state and its explanation appear together.
    const reason = await refusalReason(before);
    finish(s, "error", "Not connected");
    showProblem(reason);
    return;
  }
  const reason =
    CLOSE_REASONS[event.code] ||
    (s.stopping
      ? "The server did not send the last words in time."
      : "The connection to the server was lost. The captions so far were kept.");
  const detail = s.error && event.code !== 1008 ? ` (${s.error.message})` : "";
  finish(s, "error", event.code === 1006 ? "Connection lost" : "Disconnected");
  showProblem(reason + detail);
  if (event.code === 1008) {
    ui.tokenBox.open = true;
    ui.token.focus(); // type it, press Enter
  }
}

// ----- resume: the same stream in a new session ---------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The wait before try `attempt` (1, 2, ...): doubling from BACKOFF_FIRST_MS up to BACKOFF_MAX_MS,
// jittered to 50-100% so that the pages of a restarted server do not all come back at once.
function backoff(attempt) {
  const ms = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (attempt - 1));
  return ms * (0.5 + Math.random() / 2);
}

// A websocket to the stream's URL once it opens, or null when it closes first (refused, nobody there).
function opened() {
  return new Promise((resolve) => {
    const ws = new WebSocket(streamUrl());
    ws.binaryType = "arraybuffer";
    ws.onopen = () => resolve(ws);
    ws.onclose = () => resolve(null);
  });
}

async function reconnect(s) {
  s.reconnecting = true; // from now on audio is kept for the replay, not sent
  clearTimeout(s.stopTimer);
  setState("reconnecting", "Connection lost. Reconnecting to the server\u2026");
  const lost = performance.now();
  for (let attempt = 0; attempt < RESUME_ATTEMPTS; attempt++) {
    if (attempt) await sleep(backoff(attempt));
    if (session !== s) return; // ended meanwhile (tooFarBehind)
    const ws = await opened();
    if (session !== s) return ws?.close();
    if (ws) return resumeOn(s, ws);
  }
  const seconds = ((performance.now() - lost) / 1000).toFixed(0);
  finish(s, "error", "Connection lost");
  showProblem(
    `The connection to the server was lost, and ${RESUME_ATTEMPTS} tries to reconnect over ${seconds} s ` +
      "failed. The captions so far were kept; words spoken since were not captioned.",
  );
}

// Open a session at the last ack on `ws`, send the kept audio after it (and eof, if Stop was
// pressed), and carry on: from here new audio goes out as it comes.
function resumeOn(s, ws) {
  s.ws = ws;
  s.resumes += 1;
  s.plainReadies = 0; // readies without the resume point, in this session
  ws.onmessage = (message) => onEvent(s, JSON.parse(message.data));
  ws.onclose = (event) => onClose(s, event, null);
  const token = ui.token.value.trim();
  if (token) ws.send(JSON.stringify({ type: "auth", token }));
  ws.send(configMessage(s, s.acked));
  for (const block of s.unacked.after(s.acked.offset)) ws.send(block);
  if (s.eof) ws.send(JSON.stringify({ type: "eof" }));
  s.reconnecting = false;
  if (s.stopping) {
    setState("stopping", "Finishing the last words\u2026");
    s.stopTimer = setTimeout(() => s.ws.close(), STOP_TIMEOUT_MS);
  } else {
    setState("listening", "Listening");
    notice("Reconnected: the captions go on where they stopped.");
  }
}

// The server left more audio unacknowledged than the page keeps: stop rather than lose words.
function tooFarBehind(s) {
  const why = s.reconnecting ? "it could not be reached again in time" : "it is too far behind";
  const ws = s.ws;
  finish(s, "error", "Stopped");
  ws.close();
  showProblem(
    `The server has not confirmed the last ${RESUME_BUFFER_SECONDS} s of audio (${why}), more than ` +
      "this page keeps to resume without losing words, so captioning stopped. The captions so far were kept.",
  );
}

// The server that took the stream back does not resume streams (an older version).
function refuseResume(s) {
  const ws = s.ws;
  finish(s, "error", "Disconnected");
  ws.close();
  showProblem(
    "The connection was lost, and the server that answered again cannot resume a stream. " +
      "The captions so far were kept; press Retry to start a new one.",
  );
}

// ----- why a handshake was refused -----------------------------------------------------------

// The server's refusal counters by reason, from /metrics (null when a proxy hides it).
async function refusalCounts() {
  try {
    const response = await fetch("metrics", { cache: "no-store" });
    if (!response.ok) return null;
    const counts = {};
    const text = await response.text();
    for (const [, reason, value] of text.matchAll(/^hubert_stream_rejected_total\{reason="(\w+)"\} (\S+)$/gm)) {
      counts[reason] = Number(value);
    }
    return counts;
  } catch {
    return null;
  }
}

async function refusalReason(before) {
  let health;
  try {
    health = await fetch("healthz", { cache: "no-store" });
  } catch {
    return "The server cannot be reached. Check that it is running, then press Retry.";
  }
  if (health.status === 503) return REFUSALS.loading;
  const after = await refusalCounts();
  if (before && after) {
    for (const reason of Object.keys(REFUSALS)) {
      if ((after[reason] || 0) > (before[reason] || 0)) return REFUSALS[reason];
    }
  }
  return (
    "The server refused the connection: it may be full (HTTP 503), or it does not allow this " +
    "page's origin (HTTP 403). Press Retry to try again."
  );
}

// ----- transcript tools ----------------------------------------------------------------------

function exported() {
  const format = FORMATS[ui.format.value];
  return { format, text: format.render(transcript), extension: ui.format.value };
}

async function copyTranscript() {
  const { text } = exported();
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard API (an insecure page) or no permission: the old way, through a selection.
    const area = Object.assign(document.createElement("textarea"), { value: text });
    document.body.append(area);
    area.select();
    const copied = document.execCommand("copy");
    area.remove();
    if (!copied) return notice("The browser did not allow copying; use Download instead.");
  }
  notice(`Copied the transcript (${ui.format.selectedOptions[0].text}).`);
}

function downloadTranscript() {
  const { format, text, extension } = exported();
  const url = URL.createObjectURL(new Blob([text], { type: `${format.type};charset=utf-8` }));
  const stamp = new Date().toISOString().slice(0, 16).replace(/[-:]/g, "").replace("T", "-");
  const link = Object.assign(document.createElement("a"), { href: url, download: `captions-${stamp}.${extension}` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

function clearTranscript() {
  transcript.length = 0;
  if (!session) clockOrigin = null; // the next Start begins at 00:00; a running session keeps its clock
  showing(() => ui.finals.replaceChildren());
  updateTranscriptButtons();
  notice("Cleared the transcript.");
}

// ----- wiring --------------------------------------------------------------------------------

async function switchDevice() {
  const s = session;
  if (!s || s.stopping || !s.stream) return; // the next Start uses the choice
  let stream;
  try {
    stream = await openMicrophone(ui.device.value);
  } catch (error) {
    notice(microphoneProblem(error));
    return;
  }
  if (session !== s || s.stopping) return stream.getTracks().forEach((track) => track.stop());
  s.stream.getTracks().forEach((track) => track.stop());
  s.stream = stream;
  watchTrack(s);
  if (s.source) {
    s.source.disconnect();
    s.source = s.context.createMediaStreamSource(stream);
    s.source.connect(s.node);
  }
  notice(`Now listening to ${ui.device.selectedOptions[0].text}.`);
}

function toggleLarge() {
  const large = ui.large.getAttribute("aria-pressed") !== "true";
  ui.large.setAttribute("aria-pressed", String(large));
  document.body.classList.toggle("large", large);
  ui.captions.scrollTop = ui.captions.scrollHeight;
}

// Tell people early when the server is not ready, instead of at their first Start.
async function checkHealth() {
  let response;
  try {
    response = await fetch("healthz", { cache: "no-store" });
  } catch {
    setState("error", "The server cannot be reached.");
    return;
  }
  if (response.status === 503) {
    if (!session) setState("idle", "The server is loading its model\u2026");
    setTimeout(checkHealth, HEALTH_POLL_MS);
  } else if (!session) {
    setState("idle", "Ready. Press Start to caption the microphone.");
  }
}

ui.start.addEventListener("click", start);
ui.stop.addEventListener("click", stop);
ui.retry.addEventListener("click", () => {
  restoreFocus = true; // the Retry button disappears; focus goes on to Stop
  hideProblem();
  start();
});
ui.device.addEventListener("change", switchDevice);
ui.token.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !session) ui.retry.click();
});
ui.words.addEventListener("input", keepWords);
ui.large.addEventListener("click", toggleLarge);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && document.body.classList.contains("large")) toggleLarge();
});
ui.copy.addEventListener("click", copyTranscript);
ui.download.addEventListener("click", downloadTranscript);
ui.clear.addEventListener("click", clearTranscript);
navigator.mediaDevices?.addEventListener?.("devicechange", refreshDevices);
updateTranscriptButtons();
restoreWords();
refreshDevices();
checkHealth();
