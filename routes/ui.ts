/**
 * The pages: GET /ui, the feature explorer (search, feature cards, activations, steering; the
 * vision page is one of its tabs), and GET /ui/vision with its bundled example.
 * @module
 */

import type { Operation } from "./operation.ts";
import { VisionExampleSchema } from "./response_schemas.ts";
import { EXPLORER_PAGE } from "./ui_explorer_page.ts";
import { VISION_PAGE, visionExample } from "./ui_vision_page.ts";

const page = {
  200: { description: "the page", content: { "text/html": "a self-contained page" } },
};

/** The UI operations. */
export function uiOperations(): Operation[] {
  return [{
    method: "get",
    path: "/ui",
    tag: "ui",
    summary: "Feature explorer: search features, open cards, encode and steer activations",
    responses: page,
    handler: (c) => c.html(EXPLORER_PAGE),
  }, {
    method: "get",
    path: "/ui/vision",
    tag: "ui",
    summary: "Vision features page: upload an image and its patch activations, see heatmaps",
    responses: page,
    handler: (c) => c.html(VISION_PAGE),
  }, {
    method: "get",
    path: "/ui/vision/example.json",
    tag: "ui",
    summary: "The vision page's bundled example: an image and 1 + 4 x 4 token activations",
    responses: {
      200: { description: "the example", content: { "application/json": VisionExampleSchema } },
    },
    handler: async (c) => c.json(await visionExample()),
  }];
}
