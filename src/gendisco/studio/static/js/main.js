// The studio page: loads the project, draws the song, and wires the areas together.
// Numbers in comments are the areas of the original Generative Disco interface.

import * as api from "./api.js";
import { Editor } from "./editor.js";
import { Brainstorm, Explore } from "./ideas.js";
import { Jobs } from "./jobs.js";
import { Tracks, VideoSync } from "./tracks.js";
import { Waveform, formatClock, peaksToChannel } from "./waveform.js";

const $ = (selector) => document.querySelector(selector);

const state = {
  snapshot: null, // GET /api/project: version, project (defaults filled in), resolved, problems
  selected: null, // index of the selected interval
  analysis: null,
  tracks: null,
  duration: 0,
  images: {}, // interval index -> {start, end, hold}: explored images dropped there
  pickedClip: null, // a clip chosen in the tracks instead of final.mp4
};

function report(message, isError = false) {
  const status = $("#status");
  status.textContent = message;
  status.className = isError ? "error" : "ok";
}

function intervals() {
  return state.snapshot && state.snapshot.project ? state.snapshot.project.intervals : [];
}

// -- the areas -------------------------------------------------------------------------

const waveform = new Waveform({
  container: $("#waveform"),
  marks: $("#marks"),
  curve: $("#curve"),
  snapMode: () => $("#snap").value,
  onSelect: (index) => select(index),
  onMove: (index, start, end) =>
    save([{ op: "merge", path: ["intervals", index], value: { start, end } }], `interval ${index} moved`),
  onCreate: (start, end) => createInterval(start, end),
});

const editor = new Editor({
  form: $("#editor"),
  title: $("#editor-title"),
  hint: $("#editor-hint"),
  onSave: (index, patch) => save([{ op: "merge", path: ["intervals", index], value: patch }], `interval ${index}`),
  onDrop: (index, end, item) => dropOnEnd(index, end, item),
});

const jobs = new Jobs({
  list: $("#jobs"),
  progress: $("#progress"),
  bar: $("#progress-bar"),
  text: $("#progress-text"),
  cancel: $("#cancel"),
  onCancel: (id) => api.post(`/api/jobs/${id}/cancel`).catch((error) => report(error.message, true)),
});

const explore = new Explore({
  form: $("#explore"),
  grid: $("#images"),
  start: (request) => startJob("/api/jobs/explore", request),
});

new Brainstorm({
  form: $("#brainstorm"),
  list: $("#ideas"),
  source: $("#ideas-source"),
  selectedPrompt: () => {
    const resolved = state.snapshot && state.snapshot.resolved[state.selected];
    if (!resolved) return "";
    const interval = intervals()[state.selected];
    return interval.hold ? interval.hold.prompt : (interval.from ? interval.from.prompt : resolved.from_prompt);
  },
  ask: (request) => api.post("/api/brainstorm", request),
  explore: (prompt) => explore.run(prompt),
  report,
});

const tracks = new Tracks({ element: $("#tracks"), onPick: (item) => pickClip(item) });
const video = new VideoSync({ video: $("#video"), label: $("#video-label") });

window.gendiscoStudio = { state, waveform, jobs, video, tracks };

// -- the project ------------------------------------------------------------------------

async function loadProject() {
  state.snapshot = await api.get("/api/project");
  applySnapshot();
}

function applySnapshot() {
  const snapshot = state.snapshot;
  $("#file").textContent = snapshot.file;
  const problems = $("#problems");
  problems.hidden = !snapshot.problems.length;
  problems.textContent = snapshot.problems.length
    ? `${snapshot.file} does not validate; fix it in your editor (the studio shows the last valid version):\n${snapshot.problems.join("\n")}`
    : "";
  const notes = $("#warnings");
  notes.replaceChildren();
  for (const line of snapshot.warnings) {
    const item = document.createElement("li");
    item.textContent = `warning: ${line}`;
    notes.append(item);
  }
  if (!snapshot.project) return;
  if (state.selected !== null && state.selected >= intervals().length) state.selected = null;
  if (waveform.ws) waveform.setIntervals(intervals(), state.selected);
  showSelected();
  refreshTracks();
}

function showSelected() {
  const index = state.selected;
  const interval = index === null ? null : intervals()[index];
  editor.show(index, interval, index === null ? null : state.snapshot.resolved[index], state.images[index] || {});
  $("#delete-interval").disabled = index === null;
  $("#render-one").disabled = index === null;
  $("#render-one").textContent = index === null ? "Generate interval" : `Generate interval ${index}`;
  if (index === null) {
    waveform.setCurve(null);
  } else {
    api.get(`/api/intervals/${index}/curve`).then((curve) => waveform.setCurve(curve)).catch(() => waveform.setCurve(null));
  }
}

function select(index) {
  state.selected = index;
  waveform.setIntervals(intervals(), index);
  showSelected();
}

/** Send edit operations; on success show the saved file, else the validator's words. */
let saving = 0; // edits in flight: their answer brings the new snapshot
async function save(ops, what) {
  saving += 1;
  try {
    state.snapshot = await api.patch("/api/project", { version: state.snapshot.version, ops });
    applySnapshot();
    report(`saved ${what}`);
    return true;
  } catch (error) {
    if (error.status === 409) {
      await loadProject();
    } else if (error.status === 422 || error.status === 404 || error.status === 400) {
      editor.showErrors(error.lines);
      waveform.setIntervals(intervals(), state.selected); // put dragged regions back
    }
    report(error.lines.length > 1 ? `${error.lines[0]} (and ${error.lines.length - 1} more)` : error.message, true);
    return false;
  } finally {
    saving -= 1;
  }
}

function createInterval(start, end) {
  const list = intervals();
  const index = list.filter((interval) => interval.start < start).length;
  const previous = state.snapshot.resolved[index - 1];
  const before = list[index - 1];
  // a new interval holds on the picture it follows, until its prompt is written
  const prompt = before ? (before.hold ? before.hold.prompt : before.to.prompt) : "a new scene";
  const seed = previous ? previous.to_seed : undefined;
  const hold = seed === undefined ? { prompt } : { prompt, seed };
  save([{ op: "insert", path: ["intervals", index], value: { start, end, hold } }], `new interval ${index}`).then((ok) => {
    if (ok) select(index);
  });
}

function dropOnEnd(index, end, item) {
  const key = end === "start" ? "from" : end === "end" ? "to" : "hold";
  const value = { prompt: item.prompt };
  if (item.seed !== undefined) value.seed = item.seed;
  if (item.image) {
    state.images[index] = { ...(state.images[index] || {}), [end]: item.image };
  }
  const patch = { [key]: value };
  if (key !== "hold" && intervals()[index].hold) {
    Object.assign(patch, { hold: null, transition: "color" });
  }
  save([{ op: "merge", path: ["intervals", index], value: patch }], `interval ${index} ${end}`);
}

// -- jobs, tracks and video -------------------------------------------------------------

async function startJob(path, body) {
  try {
    const job = await api.post(path, body);
    jobs.update(job);
    return job;
  } catch (error) {
    report(error.message, true);
    return null;
  }
}

// One request at a time. A refresh asked for while one is in flight runs again after it:
// the answer in flight may predate what prompted the new ask (a render's last clip or
// final.mp4 written meanwhile), and dropping the ask would leave the tracks behind.
let tracksPending = null;
let tracksAgain = false;
function refreshTracks() {
  if (tracksPending) {
    tracksAgain = true;
    return tracksPending;
  }
  tracksPending = api.get("/api/tracks").then((data) => {
    state.tracks = data;
    tracks.show(data, state.duration);
    showVideo();
  }).catch((error) => report(`tracks: ${error.message}`, true)).finally(() => {
    tracksPending = null;
    if (tracksAgain) {
      tracksAgain = false;
      refreshTracks();
    }
  });
  return tracksPending;
}

function showVideo() {
  const data = state.tracks;
  if (state.pickedClip) return;
  if (data && data.final.exists) {
    video.setSource({
      url: api.mediaUrl("/media/output/final.mp4", data.final.version),
      offset: data.final.start,
      title: data.final.stale ? "final.mp4 (stale: the project changed since it was joined)" : "final.mp4",
    });
  } else {
    video.clear("no final.mp4 yet: generate all to join the clips (click a track to watch its clip)");
  }
}

function pickClip(item) {
  state.pickedClip = item;
  video.setSource({
    url: api.mediaUrl(`/media/output/clips/${encodeURIComponent(item.clip)}`, item.version),
    offset: item.clip_start ?? item.start,
    title: `interval ${item.index}: ${item.clip}${item.state === "stale" ? " (stale)" : ""}`,
  });
  for (const element of document.querySelectorAll(".track")) {
    element.classList.toggle("selected", Number(element.dataset.interval) === item.index);
  }
  if (waveform.ws) waveform.ws.setTime(item.start);
}

const lastRender = { id: null, interval: null, state: null };
function jobEvent(job) {
  jobs.update(job);
  if (job.kind === "explore" && job.state === "done") explore.show(job);
  if (job.state === "failed") report(`${job.title}: ${job.error}`, true);
  if (job.kind === "render") {
    // a new interval started, or the job ended: clips have appeared
    if (job.id !== lastRender.id || job.interval !== lastRender.interval || job.state !== lastRender.state) {
      Object.assign(lastRender, { id: job.id, interval: job.interval, state: job.state });
      if (job.state !== "queued") {
        if (job.state === "done") state.pickedClip = null;
        refreshTracks();
      }
    }
  }
}

function showLock(holder) {
  const banner = $("#lock");
  banner.hidden = !holder;
  banner.textContent = holder ? `The output folder is in use by another render (${holder}): generate waits for it to finish.` : "";
}

// -- start ----------------------------------------------------------------------------------

async function start() {
  const peaksRequest = api.request("GET", "/api/peaks");
  const analysisRequest = api.get("/api/analysis");
  await loadProject();
  const { data, headers } = await peaksRequest;
  state.duration = Number(headers.get("X-Duration"));
  const songVersion = state.snapshot.project ? state.snapshot.project.song : "";
  await waveform.load({
    peaks: peaksToChannel(data),
    duration: state.duration,
    songUrl: api.mediaUrl("/media/song", songVersion),
  });
  waveform.setIntervals(intervals(), state.selected);
  const snap = state.snapshot.project && state.snapshot.project.snap;
  if (snap === "bar") $("#snap").value = "bar"; // the project's own choice, else beats
  document.body.dataset.ready = "waveform";
  window.gendiscoStudio.readyMs = performance.now();

  const ws = waveform.ws;
  ws.on("timeupdate", (t) => {
    $("#clock").textContent = formatClock(t);
    video.follow(t, ws.isPlaying());
    tracks.movePlayhead(t);
  });
  ws.on("play", () => ($("#play").textContent = "Pause"));
  ws.on("pause", () => {
    $("#play").textContent = "Play";
    video.follow(ws.getCurrentTime(), false);
  });
  $("#play").addEventListener("click", () => ws.playPause());
  $("#video").addEventListener("click", () => ws.playPause());
  $("#zoom").addEventListener("input", (event) => ws.zoom(Number(event.target.value)));
  document.addEventListener("keydown", (event) => {
    if (event.code === "Space" && !event.target.closest("input, textarea, select, button")) {
      event.preventDefault();
      ws.playPause();
    }
  });

  try {
    state.analysis = await analysisRequest;
    waveform.setAnalysis(state.analysis);
    const a = state.analysis;
    $("#song-info").textContent = `${a.tempo ? `${a.tempo.toFixed(1)} BPM` : "no steady beat"}, ${a.beats.length} beats, ${a.sections.length} sections, ${formatClock(a.duration)}`;
    document.body.dataset.analysis = "drawn";
    window.gendiscoStudio.analysisMs = performance.now();
  } catch (error) {
    report(`analysis: ${error.message}`, true);
  }
  refreshTracks();
}

$("#delete-interval").addEventListener("click", () => {
  const index = state.selected;
  if (index === null) return;
  state.selected = null;
  save([{ op: "remove", path: ["intervals", index] }], `interval ${index} deleted`);
});
$("#render-one").addEventListener("click", () => {
  if (state.selected !== null) startJob("/api/jobs/render", { intervals: [state.selected] });
});
$("#render-all").addEventListener("click", () => {
  state.pickedClip = null;
  startJob("/api/jobs/render", { intervals: null });
});

api.listen(
  {
    hello: (data) => {
      if (state.snapshot && data.version !== state.snapshot.version) loadProject();
    },
    job: jobEvent,
    project: (data) => {
      if (!state.snapshot || data.version === state.snapshot.version) return;
      if (data.source === "disk") {
        loadProject().then(() => report("the project file changed on disk: reloaded"));
      } else if (!saving) {
        loadProject(); // saved from another page of this studio
      }
    },
    lock: (data) => showLock(data.holder),
    tracks: () => refreshTracks(),
  },
  (connected) => {
    if (!connected) report("lost the connection to the studio server; retrying", true);
  },
);

api.get("/api/status").then((status) => {
  showLock(status.lock);
  $("#model").textContent = `model ${status.model}`;
  for (const job of status.jobs) jobs.update(job);
}).catch(() => {});

start().catch((error) => report(error.message, true));
