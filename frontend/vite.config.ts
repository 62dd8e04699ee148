import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The built app is served by the edge (locally) or CloudFront (in AWS) at the same origin
// as the API, under a Content-Security-Policy of `default-src 'self'`: no inline scripts.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
  },
  server: {
    port: 5173,
    // `npm run dev` against a running local stack.
    proxy: {
      "/api": { target: "http://127.0.0.1:8080", changeOrigin: false },
      "/local": { target: "http://127.0.0.1:8080", changeOrigin: false },
      "/config.json": { target: "http://127.0.0.1:8080", changeOrigin: false },
    },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test/setup.ts"],
    restoreMocks: true,
    unstubGlobals: true,
  },
});
