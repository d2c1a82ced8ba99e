import { defineConfig } from "vite";

// Assets are bundled and served by the owner; nothing comes from a CDN.
export default defineConfig({ base: "/", build: { outDir: "dist", emptyOutDir: true } });
