// omnimig serve: the page's only script, served by omnimig itself (no other origin is allowed).
// Upload with progress, validation progress, and keyboard moves through problem cells.
"use strict";

(function () {
  const HEADERS = { "X-Omnimig": "1" };

  // The texts this script writes, translated by the server into the page's language (the page
  // carries them as JSON: the CSP allows no inline script). English is the fallback.
  const T = Object.assign({
    thousands: ",", decimal: ".", bytes: "{n} bytes", file_one: "{n} file", file_other: "{n} files",
    chosen: "{files}, {size}", too_large: "{chosen} — more than this page takes ({limit})",
    sending: "sending {file} ({n} of {total}) to omnimig on this computer", checking: "checking…",
    cannot_start: "cannot start: {status}", upload_failed: "the upload failed", row: "row {row}", header: "header",
  }, (() => {
    const el = document.getElementById("texts");
    try { return el ? JSON.parse(el.textContent) : {}; } catch (_) { return {}; }
  })());

  // A translated text with its {named} places filled, as Python's str.format fills the same text.
  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, (all, name) => (name in values ? String(values[name]) : all));
  }

  // A count as the page's language writes it: 1,204 in English, 1.204 in Turkish.
  function num(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, T.thousands); }

  function count(n) { return fmt(n === 1 ? T.file_one : T.file_other, { n: num(n) }); }

  function text(el, value) { if (el) el.textContent = value; }

  function size(n) {
    const units = [["GB", 1024 ** 3], ["MB", 1024 ** 2], ["kB", 1024]];
    for (const [unit, f] of units) if (n >= f) return String(Number((n / f).toPrecision(3))).replace(".", T.decimal) + " " + unit;
    return fmt(T.bytes, { n: num(n) });
  }

  // ---- the drop zone ------------------------------------------------------------------------
  const form = document.getElementById("upload");
  if (form) {
    const chosen = [];
    const list = document.getElementById("chosen");
    const check = document.getElementById("check");
    const status = document.getElementById("status");
    const bar = document.getElementById("progress");
    const maxUpload = Number(form.dataset.maxUpload || 0);

    function add(file, path) {
      chosen.push({ file: file, path: path || file.webkitRelativePath || file.name });
      const li = document.createElement("li");
      li.textContent = (path || file.webkitRelativePath || file.name) + " — " + size(file.size);
      list.appendChild(li);
      check.disabled = false;
      const total = chosen.reduce((s, c) => s + c.file.size, 0);
      const line = fmt(T.chosen, { files: count(chosen.length), size: size(total) });
      text(status, maxUpload && total > maxUpload ? fmt(T.too_large, { chosen: line, limit: size(maxUpload) }) : line);
    }

    for (const id of ["pick-files", "pick-folder"]) {
      document.getElementById(id).addEventListener("change", (e) => {
        for (const f of e.target.files) add(f);
        e.target.value = "";
      });
    }

    function readEntry(entry, prefix) {
      return new Promise((resolve) => {
        if (entry.isFile) {
          entry.file((f) => { add(f, prefix + f.name); resolve(); }, () => resolve());
        } else if (entry.isDirectory) {
          const reader = entry.createReader();
          const all = [];
          const more = () => reader.readEntries((batch) => {
            if (!batch.length) {
              Promise.all(all.map((c) => readEntry(c, prefix + entry.name + "/"))).then(resolve);
            } else { all.push(...batch); more(); }
          }, () => resolve());
          more();
        } else { resolve(); }
      });
    }

    form.addEventListener("dragover", (e) => { e.preventDefault(); form.classList.add("over"); });
    form.addEventListener("dragleave", () => form.classList.remove("over"));
    form.addEventListener("drop", (e) => {
      e.preventDefault();
      form.classList.remove("over");
      const items = e.dataTransfer.items;
      const entries = items ? Array.from(items).map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean) : [];
      if (entries.length) {
        Promise.all(entries.map((en) => readEntry(en, ""))).then(() => { if (chosen.length) check.focus(); });
      } else {
        for (const f of e.dataTransfer.files) add(f);
      }
    });

    function send(sessionUrl, item, done, total) {
      return new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open("POST", sessionUrl + "/files?name=" + encodeURIComponent(item.path));
        xhr.setRequestHeader("X-Omnimig", "1");
        xhr.setRequestHeader("Content-Type", "application/octet-stream");
        xhr.upload.onprogress = (e) => { bar.max = total || 1; bar.value = done + e.loaded; };
        xhr.onload = () => {
          if (xhr.status === 201) resolve();
          else { let msg = xhr.statusText; try { msg = JSON.parse(xhr.responseText).error; } catch (_) { /* plain text */ } reject(new Error(item.path + ": " + msg)); }
        };
        xhr.onerror = () => reject(new Error(item.path + ": " + T.upload_failed));
        xhr.send(item.file);
      });
    }

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!chosen.length) return;
      check.disabled = true;
      bar.hidden = false;
      try {
        const made = await fetch("/api/sessions", { method: "POST", headers: HEADERS });
        if (!made.ok) throw new Error(fmt(T.cannot_start, { status: made.status }));
        const session = await made.json();
        const url = "/api/sessions/" + session.id;
        const total = chosen.reduce((s, c) => s + c.file.size, 0);
        let done = 0;
        for (const [i, item] of chosen.entries()) {
          text(status, fmt(T.sending, { file: item.path, n: num(i + 1), total: num(chosen.length) }));
          await send(url, item, done, total);
          done += item.file.size;
        }
        text(status, T.checking);
        const started = await fetch(url + "/validate", { method: "POST", headers: HEADERS });
        const body = await started.json();
        if (!started.ok) throw new Error(body.error || started.statusText);
        window.location.assign(body.url);
      } catch (err) {
        text(status, "✖ " + err.message);
        check.disabled = false;
      }
    });
  }

  // ---- validation (and grid preparation) progress -------------------------------------------
  const working = document.getElementById("working");
  if (working && working.dataset.statusUrl) {
    const bar = document.getElementById("progress");
    const status = document.getElementById("status");
    const poll = async () => {
      try {
        const r = await fetch(working.dataset.statusUrl, { headers: HEADERS });
        const s = await r.json();
        if (!r.ok) { text(status, "✖ " + (s.error || r.statusText)); return; }
        if (s.phase === "done" || s.phase === "failed") { window.location.reload(); return; }
        bar.max = s.total || 1; bar.value = s.done; text(status, s.text);
      } catch (_) { /* the server is busy: try again */ }
      setTimeout(poll, 400);
    };
    setTimeout(poll, 200);
  } else if (working && working.dataset.reload) {
    setTimeout(() => window.location.reload(), 700);
  }

  // ---- forget --------------------------------------------------------------------------------
  const forget = document.getElementById("forget");
  if (forget) {
    forget.addEventListener("click", async () => {
      await fetch(forget.dataset.sessionUrl, { method: "DELETE", headers: HEADERS });
      window.location.assign("/");
    });
  }

  // ---- the grid: n / p through problem cells, [ / ] through pages ----------------------------
  const grid = document.getElementById("grid");
  if (grid) {
    const cells = Array.from(grid.querySelectorAll(".cell[tabindex]"));
    const panel = document.getElementById("cell-problem");
    const columns = Array.from(grid.querySelectorAll("thead th")).map((th) => th.firstChild ? th.firstChild.textContent : "");
    function show(cell) {
      if (!panel || !cell) return;
      panel.textContent = "";
      const tr = cell.closest("tr");
      const where = document.createElement("span");
      where.className = "where";
      const column = cell.cellIndex > 0 ? columns[cell.cellIndex] : "";
      where.textContent = (tr.dataset.row ? fmt(T.row, { row: tr.dataset.row }) : T.header) + (column ? ", " + column : "") + ":";
      panel.appendChild(where);
      for (const line of cell.querySelectorAll(".tip-line")) {
        const div = document.createElement("div");
        div.textContent = line.textContent;
        panel.appendChild(div);
      }
    }
    grid.addEventListener("focusin", (e) => show(e.target.closest(".cell")));
    grid.addEventListener("mouseover", (e) => { const c = e.target.closest(".cell"); if (c) show(c); });
    const focusRow = grid.querySelector("tr.focus");
    if (focusRow) {
      const first = focusRow.querySelector(".cell[tabindex]") || focusRow;
      first.focus({ preventScroll: true });
      first.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
    document.addEventListener("keydown", (e) => {
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      const tag = (e.target.tagName || "").toLowerCase();
      if (tag === "input" || tag === "select" || tag === "textarea") return;
      if (e.key === "n" || e.key === "p") {
        if (!cells.length) return;
        const at = cells.indexOf(document.activeElement);
        const next = e.key === "n" ? (at + 1) % cells.length : (at <= 0 ? cells.length - 1 : at - 1);
        cells[next].focus();
        cells[next].scrollIntoView({ block: "nearest", inline: "nearest" });
        e.preventDefault();
      } else if (e.key === "]" || e.key === "[") {
        const link = document.querySelector('.pager a[data-key="' + e.key + '"]');
        if (link) { window.location.assign(link.href); e.preventDefault(); }
      }
    });
  }
})();
