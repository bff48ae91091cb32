// 1. The waveform: the song drawn from server-side peaks, intervals as regions, and the
// analysis (beats, downbeats, sections, local tempo) drawn over it; the selected
// interval's warp curve drawn under it.

import WaveSurfer from "../vendor/wavesurfer/wavesurfer.esm.js";
import RegionsPlugin from "../vendor/wavesurfer/plugins/regions.esm.js";
import TimelinePlugin from "../vendor/wavesurfer/plugins/timeline.esm.js";

const WAVE_HEIGHT = 128;
const MIN_NEW_INTERVAL_S = 0.25;
const MIN_TICK_PX = 4; // beat ticks closer than this would paint the waveform over
const MIN_LABEL_PX = 110;
const COLORS = {
  transition: "rgba(255, 95, 162, 0.16)",
  hold: "rgba(55, 208, 198, 0.16)",
  selected: "rgba(255, 95, 162, 0.34)",
  selectedHold: "rgba(55, 208, 198, 0.34)",
  new: "rgba(255, 255, 255, 0.18)",
};

/** int8 (min, max) pairs -> one channel of floats that wavesurfer draws as a waveform. */
export function peaksToChannel(buffer) {
  const pairs = new Int8Array(buffer);
  const channel = new Float32Array(pairs.length);
  for (let i = 0; i < pairs.length; i++) channel[i] = pairs[i] / 127;
  return channel;
}

export function formatClock(seconds) {
  const s = Math.max(0, seconds);
  const minutes = Math.floor(s / 60);
  return `${minutes}:${(s - minutes * 60).toFixed(1).padStart(4, "0")}`;
}

export class Waveform {
  constructor({ container, marks, curve, snapMode, onSelect, onMove, onCreate }) {
    this.container = container;
    this.marks = marks;
    this.curveCanvas = curve;
    this.snapMode = snapMode;
    this.onSelect = onSelect;
    this.onMove = onMove;
    this.onCreate = onCreate;
    this.analysis = null;
    this.intervals = [];
    this.selected = null;
    this.curve = null;
    this.duration = 0;
    this.addingOurOwn = false;
  }

  /** Draw the waveform at once from peaks; the song loads behind it for playback. */
  load({ peaks, duration, songUrl }) {
    this.duration = duration;
    this.regions = RegionsPlugin.create();
    this.ws = WaveSurfer.create({
      container: this.container,
      height: WAVE_HEIGHT,
      waveColor: "#8c8c99",
      progressColor: "#ff5fa2",
      cursorColor: "#ffffff",
      cursorWidth: 2,
      normalize: true,
      url: songUrl,
      peaks: [peaks],
      duration,
      autoScroll: true,
      plugins: [this.regions, TimelinePlugin.create({ height: 16, style: "color: #9a9aa3; font-size: 10px" })],
    });
    const drawn = new Promise((resolve) => this.ws.once("redrawcomplete", resolve));
    for (const name of ["redraw", "scroll", "zoom", "resize"]) {
      this.ws.on(name, () => this.redrawOverlays());
    }
    window.addEventListener("resize", () => this.redrawOverlays());
    this.regions.enableDragSelection({ color: COLORS.new });
    this.regions.on("region-created", (region) => this.regionCreated(region));
    this.regions.on("region-updated", (region) => this.regionMoved(region));
    this.regions.on("region-clicked", (region, event) => {
      event.stopPropagation();
      const index = Number(region.id.replace("interval-", ""));
      if (!Number.isNaN(index)) this.onSelect(index);
    });
    return drawn;
  }

  // -- time <-> pixels (the same mapping as wavesurfer's, whatever the zoom and scroll)

  pixelsPerSecond() {
    const wrapper = this.ws.getWrapper();
    return (wrapper.scrollWidth || wrapper.clientWidth) / (this.duration || 1);
  }

  x(seconds) {
    return seconds * this.pixelsPerSecond() - this.ws.getScroll();
  }

  snap(seconds) {
    const grid = !this.analysis ? [] : this.snapMode() === "beat" ? this.analysis.beats
      : this.snapMode() === "bar" ? this.analysis.downbeats : [];
    if (!grid.length) return Math.round(seconds * 1000) / 1000;
    let best = grid[0];
    for (const t of grid) if (Math.abs(t - seconds) < Math.abs(best - seconds)) best = t;
    // the song's ends are always places to snap to
    for (const t of [0, this.duration]) if (Math.abs(t - seconds) < Math.abs(best - seconds)) best = t;
    return Math.round(best * 1000) / 1000;
  }

  // -- intervals as regions ------------------------------------------------------------

  setIntervals(intervals, selected) {
    this.intervals = intervals;
    this.selected = selected;
    this.addingOurOwn = true;
    try {
      this.regions.clearRegions();
      intervals.forEach((interval, index) => {
        const hold = interval.hold != null;
        const isSelected = index === selected;
        const label = document.createElement("span");
        label.className = "region-label";
        label.textContent = `${index} ${hold ? "hold" : interval.transition}`;
        label.style.cssText = "font-size:11px;color:#fff;padding:2px 4px;text-shadow:0 0 3px #000";
        this.regions.addRegion({
          id: `interval-${index}`,
          start: interval.start,
          end: interval.end,
          color: isSelected ? (hold ? COLORS.selectedHold : COLORS.selected) : hold ? COLORS.hold : COLORS.transition,
          content: label,
          drag: true,
          resize: true,
        });
      });
    } finally {
      this.addingOurOwn = false;
    }
  }

  regionMoved(region) {
    const index = Number(region.id.replace("interval-", ""));
    if (Number.isNaN(index)) return;
    const start = this.snap(region.start);
    const end = this.snap(region.end);
    this.onMove(index, start, end > start ? end : region.end);
  }

  /** A drag over the waveform: a new interval in the free stretch where the drag started. */
  regionCreated(region) {
    if (this.addingOurOwn || region.id.startsWith("interval-")) return;
    const [from, to] = [region.start, region.end];
    region.remove();
    let free0 = 0;
    let free1 = this.duration;
    const middle = (from + to) / 2;
    for (const interval of this.intervals) {
      if (interval.end <= middle + 1e-6) free0 = Math.max(free0, interval.end);
      if (interval.start >= middle - 1e-6) free1 = Math.min(free1, interval.start);
      if (interval.start < middle && interval.end > middle) return; // inside an interval: no gap
    }
    let start = Math.max(free0, this.snap(from));
    let end = Math.min(free1, this.snap(to));
    if (end - start < MIN_NEW_INTERVAL_S) {
      start = Math.max(free0, from);
      end = Math.min(free1, to);
    }
    if (end - start < MIN_NEW_INTERVAL_S) return;
    this.onCreate(Math.round(start * 1000) / 1000, Math.round(end * 1000) / 1000);
  }

  // -- analysis and curve overlays ---------------------------------------------------

  setAnalysis(analysis) {
    this.analysis = analysis;
    this.redrawOverlays();
  }

  setCurve(curve) {
    this.curve = curve;
    this.drawCurve();
  }

  redrawOverlays() {
    this.drawMarks();
    this.drawCurve();
  }

  fitCanvas(canvas, height) {
    const width = this.container.clientWidth;
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    const context = canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    return { context, width };
  }

  drawMarks() {
    if (!this.ws) return;
    const { context, width } = this.fitCanvas(this.marks, WAVE_HEIGHT);
    const a = this.analysis;
    if (!a) return;
    const visible = (t) => {
      const x = this.x(t);
      return x >= -1 && x <= width + 1 ? x : null;
    };
    // ticks only where they stay apart: beats, else bars only, else none (zoom in to see)
    const pps = this.pixelsPerSecond();
    const spacing = (times) => (times.length > 1 ? ((times[times.length - 1] - times[0]) / (times.length - 1)) * pps : Infinity);
    const showBeats = spacing(a.beats) >= MIN_TICK_PX;
    const showBars = spacing(a.downbeats) >= MIN_TICK_PX;
    const bar = new Set(a.downbeats.map((t) => t.toFixed(3)));
    context.lineWidth = 1;
    for (const t of showBeats ? a.beats : showBars ? a.downbeats : []) {
      const x = visible(t);
      if (x === null) continue;
      const down = bar.has(t.toFixed(3));
      context.strokeStyle = down ? "rgba(255,255,255,0.75)" : "rgba(255,255,255,0.35)";
      const length = down ? 22 : 10;
      context.beginPath();
      context.moveTo(Math.round(x) + 0.5, WAVE_HEIGHT - length);
      context.lineTo(Math.round(x) + 0.5, WAVE_HEIGHT);
      context.stroke();
    }
    context.fillStyle = "#ffb347";
    context.strokeStyle = "#ffb347";
    context.font = "10px system-ui, sans-serif";
    let lastLabel = -Infinity;
    a.sections.forEach((t, i) => {
      const x = visible(t);
      if (x === null) return;
      context.fillRect(Math.round(x), 0, 2, WAVE_HEIGHT);
      if (x - lastLabel < MIN_LABEL_PX) return; // a label only where it fits
      lastLabel = x;
      context.fillText(`section ${i + 1} ${formatClock(t)}`, x + 4, 42);
    });
    // the local tempo: a thin line in the top band, and the BPM of each steady stretch
    const curve = a.tempo_curve;
    if (curve.times.length > 1) {
      const low = Math.min(...curve.bpm.filter((b) => b > 0), 1e9);
      const high = Math.max(...curve.bpm, 0);
      const span = Math.max(1, high - low);
      context.strokeStyle = "rgba(55, 208, 198, 0.9)";
      context.beginPath();
      let started = false;
      curve.times.forEach((t, i) => {
        const x = this.x(t);
        if (x < -10 || x > width + 10) return;
        const y = 30 - ((curve.bpm[i] - low) / span) * 10;
        if (started) context.lineTo(x, y);
        else context.moveTo(x, y);
        started = true;
      });
      context.stroke();
      context.fillStyle = "rgba(55, 208, 198, 0.95)";
      // each stretch of steady tempo labelled at its start (else each section)
      const starts = a.tempo_segments && a.tempo_segments.length
        ? a.tempo_segments.map((segment) => [segment.start, segment.bpm])
        : a.sections.map((t) => {
          const k = Math.max(0, curve.times.findIndex((u) => u >= t));
          return [t, curve.bpm[Math.min(curve.bpm.length - 1, k + 2)]];
        });
      let lastBpm = -Infinity;
      for (const [t, bpm] of starts) {
        const x = visible(t);
        if (x === null || x - lastBpm < MIN_LABEL_PX || !(bpm > 0)) continue;
        lastBpm = x;
        context.fillText(`${bpm.toFixed(0)} BPM`, x + 4, 54);
      }
    }
  }

  drawCurve() {
    if (!this.ws) return;
    const height = 56;
    const { context, width } = this.fitCanvas(this.curveCanvas, height);
    const curve = this.curve;
    if (!curve || !curve.times.length) {
      context.fillStyle = "#6a6a73";
      context.font = "11px system-ui, sans-serif";
      context.fillText("warp curve of the selected interval", 8, 30);
      return;
    }
    const x0 = this.x(curve.times[0]);
    const x1 = this.x(curve.times[curve.times.length - 1]);
    context.fillStyle = "rgba(255, 95, 162, 0.08)";
    context.fillRect(x0, 0, x1 - x0, height);
    context.strokeStyle = "#ff5fa2";
    context.lineWidth = 1.5;
    context.beginPath();
    curve.times.forEach((t, i) => {
      const x = this.x(t);
      const y = height - 4 - curve.values[i] * (height - 12);
      if (i) context.lineTo(x, y);
      else context.moveTo(x, y);
    });
    context.stroke();
    context.fillStyle = "#c9c9d1";
    context.font = "11px system-ui, sans-serif";
    context.fillText(`${curve.index}: ${curve.label}`, Math.max(4, Math.min(x0 + 4, width - 200)), 12);
  }
}
