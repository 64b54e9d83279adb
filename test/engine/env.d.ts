/** The binding vitest.config.ts gives each engine-suite project: which app's Worker is under test. */
declare namespace Cloudflare {
  interface Env {
    APP_FIXTURE: "tasks" | "notes";
  }
}
