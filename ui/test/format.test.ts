import { afterEach, describe, expect, it, vi } from "vitest";
import { relative, tagList } from "../src/dom";

describe("relative", () => {
  afterEach(() => vi.useRealTimers());
  it("names seconds, minutes, hours and days", () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-11-29T12:00:00Z"));
    expect(relative("2026-11-29T11:59:30Z")).toBe("30s ago");
    expect(relative("2026-11-29T11:15:00Z")).toBe("45m ago");
    expect(relative("2026-11-29T07:00:00Z")).toBe("5h ago");
    expect(relative("2026-11-26T12:00:00Z")).toBe("3d ago");
  });
  it("never shows a negative age for a clock a little ahead", () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-11-29T12:00:00Z"));
    expect(relative("2026-11-29T12:00:05Z")).toBe("0s ago");
  });
});

describe("tagList", () => {
  it("splits on commas, trims and drops empty entries", () => {
    expect(tagList(" ui, decision ,,  ")).toEqual(["ui", "decision"]);
    expect(tagList("")).toEqual([]);
  });
});
