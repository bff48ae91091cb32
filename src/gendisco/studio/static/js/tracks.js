// 15. Tracks: each interval's clip along the song with a thumbnail, stale clips marked;
// 9. the video: final.mp4 (or the clicked clip) kept in step with the waveform's playhead.

import { mediaUrl } from "./api.js";

const DRIFT_S = 0.12; // a video further than this from the song's time is moved back

export class Tracks {
  constructor({ element, onPick }) {
    this.element = element;
    this.onPick = onPick;
    this.data = null;
    this.duration = 1;
    this.playhead = document.createElement("div");
    this.playhead.className = "playhead";
  }

  show(data, duration) {
    this.data = data;
    this.duration = duration || 1;
    this.element.replaceChildren();
    for (const item of data.intervals) {
      const track = document.createElement("div");
      track.className = `track ${item.state}`;
      track.dataset.interval = item.index;
      track.dataset.state = item.state;
      track.style.left = `${(100 * item.start) / this.duration}%`;
      track.style.width = `${(100 * (item.end - item.start)) / this.duration}%`;
      track.title = {
        rendered: "rendered",
        partial: "partly rendered",
        stale: "stale: rendered before the project changed; generate again",
        missing: "not rendered yet",
      }[item.state];
      if (item.clip) {
        const image = document.createElement("img");
        image.src = mediaUrl(`/api/thumbs/${encodeURIComponent(item.clip)}`, item.version);
        image.alt = `interval ${item.index}`;
        track.append(image);
      }
      const label = document.createElement("span");
      label.className = "label";
      label.textContent = `${item.index} ${item.state}`;
      track.append(label);
      if (item.clip) track.addEventListener("click", () => this.onPick(item));
      this.element.append(track);
    }
    this.element.append(this.playhead);
  }

  movePlayhead(seconds) {
    this.playhead.style.left = `${(100 * seconds) / this.duration}%`;
  }
}

/** The video element follows the song: the waveform's player is the clock. */
export class VideoSync {
  constructor({ video, label }) {
    this.video = video;
    this.label = label;
    this.source = null; // {url, offset, title}
  }

  /** Show `url`, whose first frame is at `offset` seconds of the song. */
  setSource(source) {
    const same = this.source && this.source.url === source.url;
    this.source = source;
    this.label.textContent = source.title;
    if (!same) {
      this.video.src = source.url;
      this.video.load();
    }
  }

  clear(message) {
    this.source = null;
    this.video.removeAttribute("src");
    this.video.load();
    this.label.textContent = message;
  }

  /** Called on every time update of the song, playing or seeking. */
  follow(seconds, playing) {
    if (!this.source) return;
    const target = seconds - this.source.offset;
    const inside = target >= 0 && (!this.video.duration || target <= this.video.duration);
    if (!inside) {
      if (!this.video.paused) this.video.pause();
      return;
    }
    if (Math.abs(this.video.currentTime - target) > DRIFT_S) this.video.currentTime = target;
    if (playing && this.video.paused) this.video.play().catch(() => {});
    if (!playing && !this.video.paused) this.video.pause();
  }
}
