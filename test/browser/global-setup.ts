/** Builds the demo page (web/ → public/) once before the browser tests start wrangler dev. */
import { buildWeb } from "../../scripts/build-web.mjs";

export default async function setup(): Promise<void> {
  await buildWeb();
}
