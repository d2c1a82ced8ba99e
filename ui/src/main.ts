import "./style.css";
import { clearErrors, showError, type View } from "./dom";
import { api, subscribe, type Activity, type AnnalEvent } from "./transport";
import { installPalette } from "./palette";
import { connect } from "./views/connect";
import { memories, type MemoriesState } from "./views/memories";
import { overview } from "./views/overview";
import { projects } from "./views/projects";
import { review } from "./views/review";

const app = document.getElementById("app")!;
const indicator = document.getElementById("activity-indicator")!;
const feed: AnnalEvent[] = [];
const memoriesState: MemoriesState = { project: "", tag: "", offset: 0, query: "" };
let current: View | undefined;

// Live events arrive in bursts; coalesce them so at most one refresh runs at a time and
// one more follows if anything arrived meanwhile.
let refreshing = false;
let dirty = false;
async function refresh(): Promise<void> {
  if (refreshing) {
    dirty = true;
    return;
  }
  refreshing = true;
  try {
    do {
      dirty = false;
      await current?.refresh().then(clearErrors, showError);
    } while (dirty);
  } finally {
    refreshing = false;
  }
}

function navigate(): void {
  const [route, project, tag] = location.hash.split("/");
  if (route === "#memories") {
    if (project) memoriesState.project = decodeURIComponent(project);
    memoriesState.tag = tag ? decodeURIComponent(tag) : "";
    memoriesState.offset = 0;
    current = memories(app, memoriesState);
  } else if (route === "#projects") {
    current = projects(app);
  } else if (route === "#connect") {
    current = connect(app);
  } else if (route === "#review") {
    current = review(app);
  } else {
    current = overview(app, feed);
  }
  dirty = true;
  refresh();
}

function onEvent(event: AnnalEvent): void {
  feed.push(event);
  if (feed.length > 200) feed.splice(0, feed.length - 200);
  if (event.type.startsWith("index_")) updateIndicator();
  refresh();
}

// The indicator shows the engine's combined activity of all projects (one project finishing
// while another still indexes is still "indexing"), asked again whenever it may have changed.
function showActivity(activity: Activity): void {
  indicator.dataset.state = activity.state;
  indicator.title =
    activity.state === "indexing" ? `indexing ${activity.projects.join(", ")} (${activity.files_done} files done)`
    : activity.state === "failed" ? `indexing ${activity.project} failed: ${activity.error}`
    : "idle";
}
let askingActivity: Promise<void> | undefined;
let askAgain = false;
function updateIndicator(): void {
  if (askingActivity) {
    askAgain = true;
    return;
  }
  askingActivity = api.activity().then(showActivity, showError).finally(() => {
    askingActivity = undefined;
    if (askAgain) {
      askAgain = false;
      updateIndicator();
    }
  });
}

/** Reloads everything the page shows: after a (re)connect, or when events were missed. */
function reload(): void {
  updateIndicator();
  api.recentEvents().then((events) => {
    const live = new Set(feed.map((e) => e.seq));
    feed.unshift(...events.filter((e) => !live.has(e.seq)));
    feed.sort((a, b) => a.seq - b.seq);
    if (feed.length > 200) feed.splice(0, feed.length - 200);
    refresh();
  }, showError);
}

type Theme = "system" | "light" | "dark";
function applyTheme(theme: Theme): void {
  if (theme === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}
const THEMES: Theme[] = ["system", "light", "dark"];
const theme = (value: string | null): Theme => THEMES.find((known) => known === value) ?? "system";
const themePicker = document.getElementById("theme");
if (themePicker instanceof HTMLSelectElement) {
  const savedTheme = theme(localStorage.getItem("annal-theme"));
  themePicker.value = savedTheme;
  applyTheme(savedTheme);
  themePicker.onchange = () => {
    localStorage.setItem("annal-theme", themePicker.value);
    applyTheme(theme(themePicker.value));
  };
}

installPalette((query) => {
  memoriesState.query = query;
  if (location.hash.startsWith("#memories")) navigate();
  else location.hash = "#memories";
});
window.addEventListener("hashchange", () => {
  if (!location.hash.startsWith("#memories")) memoriesState.query = "";
  navigate();
});
navigate();
subscribe(onEvent, reload, reload);
