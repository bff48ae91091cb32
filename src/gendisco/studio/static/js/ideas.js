// 3. Brainstorm (a goal gives subjects and prompts; the selected interval gets transition
// or variation ideas) and 4. explore images (a prompt over several seeds). Both give
// things to drag onto an interval's start or end.

import { setDragPrompt } from "./editor.js";

export class Brainstorm {
  constructor({ form, list, source, selectedPrompt, ask, explore, report }) {
    this.list = list;
    this.source = source;
    this.ask = ask;
    this.explore = explore;
    this.report = report;
    const offline = () => form.querySelector("#offline").checked;
    const goal = () => form.querySelector("#goal").value.trim();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!goal()) return this.report("brainstorm: type a song, a lyric or a mood first", true);
      this.run({ mode: "prompts", text: goal(), offline: offline() });
    });
    for (const mode of ["transitions", "variations"]) {
      form.querySelector(`#${mode}`).addEventListener("click", () => {
        const prompt = selectedPrompt();
        if (!prompt) return this.report(`brainstorm: select an interval for ${mode}`, true);
        this.run({ mode, text: prompt, goal: goal(), offline: offline() });
      });
    }
  }

  async run(request) {
    this.source.textContent = "thinking...";
    try {
      const ideas = await this.ask(request);
      this.show(ideas);
    } catch (error) {
      this.source.textContent = "";
      this.report(`brainstorm: ${error.message}`, true);
    }
  }

  show(ideas) {
    this.source.textContent = `from ${ideas.source}${ideas.notes.length ? `; ${ideas.notes.join("; ")}` : ""}`;
    this.list.replaceChildren();
    for (const idea of ideas.ideas) {
      const item = document.createElement("li");
      item.draggable = true;
      const kind = idea.transition || idea.subject;
      if (kind) {
        const tag = document.createElement("span");
        tag.className = "kind";
        tag.textContent = kind;
        item.append(tag);
      }
      item.append(idea.prompt);
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "explore";
      button.addEventListener("click", () => this.explore(idea.prompt));
      item.append(button);
      item.addEventListener("dragstart", (event) => setDragPrompt(event, { prompt: idea.prompt, kind: idea.transition }));
      this.list.append(item);
    }
  }
}

export class Explore {
  constructor({ form, grid, start }) {
    this.form = form;
    this.grid = grid;
    this.start = start;
    this.jobId = null;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  run(prompt) {
    this.form.querySelector("#explore-prompt").value = prompt;
    this.submit();
  }

  async submit() {
    const prompt = this.form.querySelector("#explore-prompt").value.trim();
    const seeds = Number(this.form.querySelector("#explore-seeds").value) || 4;
    const first = Number(this.form.querySelector("#explore-first").value) || 0;
    const job = await this.start({ prompt, seeds, first_seed: first });
    if (job) this.jobId = job.id;
  }

  /** A finished explore job: one draggable tile per seed. */
  show(job) {
    if (job.id !== this.jobId || !job.result) return;
    this.grid.replaceChildren();
    for (const image of job.result.images) {
      const figure = document.createElement("figure");
      figure.draggable = true;
      figure.dataset.seed = image.seed;
      const img = document.createElement("img");
      img.src = image.url;
      img.alt = `${job.result.prompt}, seed ${image.seed}`;
      img.draggable = false;
      const caption = document.createElement("figcaption");
      caption.textContent = `seed ${image.seed}`;
      figure.append(img, caption);
      figure.addEventListener("dragstart", (event) =>
        setDragPrompt(event, { prompt: job.result.prompt, seed: image.seed, image: image.url }));
      this.grid.append(figure);
    }
  }
}
