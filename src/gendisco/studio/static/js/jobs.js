// 5. Generate: render the selected interval or all, one model job at a time; live
// progress (frames, frames/s, ETA) from the event stream; cancel.

import { formatClock } from "./waveform.js";

function describe(job) {
  if (job.state === "queued") return "waiting for the model";
  if (job.state === "failed") return `error: ${job.error}`;
  if (job.state === "cancelled") return "cancelled";
  if (job.state === "done") {
    const r = job.result || {};
    if (job.kind === "render") {
      return r.frames_rendered ? `done: ${r.frames_rendered} frames, ${r.frames_per_second} frames/s` : "done: every clip was already rendered";
    }
    return "done";
  }
  if (job.stage === "render" && job.frames_total) {
    const rate = job.frames_per_second ? `, ${job.frames_per_second.toFixed(2)} frames/s` : "";
    const eta = job.eta_s !== null ? `, ${formatClock(job.eta_s)} left` : "";
    const where = job.interval !== null ? ` (interval ${job.interval})` : "";
    return `${job.frames_done}/${job.frames_total} ${job.kind === "explore" ? "images" : "frames"}${rate}${eta}${where}`;
  }
  return job.message ? `${job.stage}: ${job.message}` : job.stage || "starting";
}

export class Jobs {
  constructor({ list, progress, bar, text, cancel, onCancel }) {
    this.list = list;
    this.progress = progress;
    this.bar = bar;
    this.text = text;
    this.cancelButton = cancel;
    this.jobs = new Map();
    this.events = 0; // progress events seen (the tests read it)
    this.onCancel = onCancel;
    cancel.addEventListener("click", () => {
      const running = [...this.jobs.values()].find((job) => job.state === "running");
      if (running) onCancel(running.id);
    });
  }

  update(job) {
    this.events += 1;
    this.jobs.set(job.id, job);
    while (this.jobs.size > 8) this.jobs.delete(this.jobs.keys().next().value);
    this.render();
  }

  render() {
    const jobs = [...this.jobs.values()];
    const running = jobs.find((job) => job.state === "running");
    this.progress.hidden = !running;
    this.cancelButton.hidden = !running;
    if (running) {
      this.bar.max = running.frames_total || 1;
      this.bar.value = running.frames_done;
      this.text.textContent = describe(running);
    }
    this.list.replaceChildren();
    for (const job of jobs.reverse()) {
      const item = document.createElement("li");
      item.dataset.job = job.id;
      item.dataset.state = job.state;
      item.className = job.state === "failed" ? "error" : job.state === "done" ? "muted" : "";
      item.textContent = `${job.title}: ${describe(job)}`;
      if (job.state === "queued") {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = "cancel";
        button.addEventListener("click", () => this.onCancel(job.id));
        item.append(" ", button);
      }
      this.list.append(item);
    }
  }
}
