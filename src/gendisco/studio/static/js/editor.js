// 2. The interval editor: the selected interval's start and end (drop zones for explored
// images and brainstormed prompts) and its settings. Saving sends only what changed, as a
// merge patch the server applies to the YAML file; the validator's messages come back by
// field path and are shown next to their fields.

const DRAG_TYPE = "application/x-gendisco-prompt";

export function setDragPrompt(event, item) {
  event.dataTransfer.setData(DRAG_TYPE, JSON.stringify(item));
  event.dataTransfer.setData("text/plain", item.prompt);
  event.dataTransfer.effectAllowed = "copy";
}

function number(text) {
  if (text === "" || text === null || text === undefined) return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : text; // the validator words a non-number
}

export class Editor {
  constructor({ form, title, hint, onSave, onDrop }) {
    this.form = form;
    this.title = title;
    this.hint = hint;
    this.onSave = onSave;
    this.onDrop = onDrop;
    this.index = null;
    this.interval = null;
    this.resolved = null;
    this.field = (name) => form.querySelector(`[data-field="${name}"]`);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    form.querySelector("#revert").addEventListener("click", () => this.show(this.index, this.interval, this.resolved));
    form.addEventListener("input", () => {
      form.querySelector("#dirty").textContent = "unsaved changes";
      this.showKind();
    });
    for (const zone of form.querySelectorAll(".end")) this.makeDropZone(zone);
  }

  makeDropZone(zone) {
    zone.addEventListener("dragover", (event) => {
      if (this.index === null) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      zone.classList.add("drop");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("drop"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("drop");
      const raw = event.dataTransfer.getData(DRAG_TYPE);
      const item = raw ? JSON.parse(raw) : { prompt: event.dataTransfer.getData("text/plain") };
      if (!item.prompt || this.index === null) return;
      this.onDrop(this.index, zone.dataset.end, item);
    });
  }

  kind() {
    return this.field("kind").value;
  }

  showKind() {
    const hold = this.kind() === "hold";
    this.form.querySelector("#start-zone").hidden = hold;
    this.form.querySelector("#end-zone").hidden = hold;
    this.form.querySelector("#hold-zone").hidden = !hold;
  }

  /** Show interval `index` (as validated: defaults filled in) and its resolved ends. */
  show(index, interval, resolved, images = {}) {
    this.index = index;
    this.interval = interval;
    this.resolved = resolved;
    this.clearErrors();
    this.form.querySelector("#dirty").textContent = "";
    if (index === null || !interval) {
      this.form.hidden = true;
      this.hint.hidden = false;
      this.title.textContent = "none selected";
      return;
    }
    this.form.hidden = false;
    this.hint.hidden = true;
    const hold = interval.hold != null;
    this.title.textContent = `${index}: ${hold ? "hold" : `${interval.transition} transition`}`;
    const set = (name, value) => {
      this.field(name).value = value === null || value === undefined ? "" : value;
    };
    set("start", interval.start);
    set("end", interval.end);
    set("kind", hold ? "hold" : interval.transition);
    set("warp", interval.warp);
    set("reactivity", interval.reactivity);
    const from = interval.from || {};
    const to = interval.to || {};
    const held = interval.hold || {};
    set("from.prompt", from.prompt);
    set("from.seed", from.seed);
    set("to.prompt", to.prompt);
    set("to.seed", to.seed);
    set("hold.prompt", held.prompt);
    set("hold.seed", held.seed);
    set("hold.pulse", hold ? held.pulse : 0.3);
    set("hold.zoom", hold ? held.zoom : 1.0);
    // what an omitted prompt or seed resolves to
    this.field("from.prompt").placeholder = resolved && !interval.from
      ? `continues from the previous interval: ${resolved.from_prompt}` : "";
    this.field("from.seed").placeholder = resolved ? String(resolved.from_seed) : "";
    this.field("to.seed").placeholder = resolved ? String(resolved.to_seed) : "";
    this.field("hold.seed").placeholder = resolved ? String(resolved.from_seed) : "";
    for (const [end, zone] of [["start", "#start-zone"], ["end", "#end-zone"], ["hold", "#hold-zone"]]) {
      const image = this.form.querySelector(`${zone} .end-image`);
      const url = images[end];
      image.hidden = !url;
      if (url) image.src = url;
    }
    this.showKind();
  }

  /** The changes of the form against the interval, as a merge patch (null deletes). */
  patch() {
    const interval = this.interval;
    const value = (name) => this.field(name).value;
    const patch = {};
    const start = number(value("start"));
    const end = number(value("end"));
    if (start !== interval.start) patch.start = start;
    if (end !== interval.end) patch.end = end;
    const kind = this.kind();
    if (kind === "hold") {
      const hold = {
        prompt: value("hold.prompt"),
        seed: number(value("hold.seed")),
        pulse: number(value("hold.pulse")),
        zoom: number(value("hold.zoom")),
      };
      if (interval.hold == null) {
        Object.assign(patch, { transition: null, from: null, to: null });
        patch.hold = hold;
      } else {
        const changed = {};
        for (const key of Object.keys(hold)) {
          if (hold[key] !== (interval.hold[key] ?? null)) changed[key] = hold[key];
        }
        if (Object.keys(changed).length) patch.hold = changed;
      }
    } else {
      if (interval.hold != null) patch.hold = null;
      if (kind !== interval.transition) patch.transition = kind;
      for (const end of ["from", "to"]) {
        const prompt = value(`${end}.prompt`);
        const seed = number(value(`${end}.seed`));
        const old = interval[end] || {};
        if (end === "from" && prompt === "" && seed === null) {
          if (interval.from) patch.from = null; // continue from the previous interval
          continue;
        }
        if (prompt !== (old.prompt ?? "") || seed !== (old.seed ?? null) || interval.hold != null) {
          patch[end] = { prompt, seed };
        }
      }
    }
    const warp = value("warp");
    if (warp !== interval.warp) patch.warp = warp;
    const reactivity = number(value("reactivity"));
    if (reactivity !== interval.reactivity) patch.reactivity = reactivity;
    return patch;
  }

  save() {
    if (this.index === null) return;
    const patch = this.patch();
    if (!Object.keys(patch).length) {
      this.form.querySelector("#dirty").textContent = "no changes";
      return;
    }
    this.onSave(this.index, patch);
  }

  clearErrors() {
    for (const element of this.form.querySelectorAll(".field-error")) element.textContent = "";
    for (const element of this.form.querySelectorAll(".invalid")) element.classList.remove("invalid");
  }

  /** Put each `intervals.K.field: message` line next to its field; return the others. */
  showErrors(lines) {
    this.clearErrors();
    const prefix = `intervals.${this.index}.`;
    const rest = [];
    for (const line of lines) {
      const colon = line.indexOf(": ");
      const path = colon > 0 ? line.slice(0, colon) : "";
      const message = colon > 0 ? line.slice(colon + 2) : line;
      let placed = false;
      if (path.startsWith(prefix) || path === `intervals.${this.index}`) {
        let field = path === `intervals.${this.index}` ? "" : path.slice(prefix.length);
        while (true) {
          const slot = this.form.querySelector(`[data-error="${field}"]`);
          if (slot) {
            slot.textContent = slot.textContent ? `${slot.textContent}; ${message}` : message;
            const input = this.field(field);
            if (input) input.classList.add("invalid");
            placed = true;
            break;
          }
          if (!field) break;
          field = field.includes(".") ? field.slice(0, field.lastIndexOf(".")) : "";
        }
      }
      if (!placed) rest.push(line);
    }
    return rest;
  }
}
