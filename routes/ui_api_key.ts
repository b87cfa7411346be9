/**
 * The API-key field both UI pages share: its markup and style, and the script that keeps the
 * key for the browser tab (sessionStorage) and adds it to /v1 requests as
 * `Authorization: Bearer`, with the messages a 401 or 403 gets.
 * @module
 */

/** The field, for the page header. */
export const API_KEY_FIELD =
  `<label class="key">API key <input id="apikey" type="password" autocomplete="off" placeholder="if the service has keys"></label>`;

/** The field's style (pushed to the right of the header). */
export const API_KEY_STYLE =
  `.key{margin-left:auto;font-size:13px;color:#c9d1d9}.key input{font:inherit;width:12em}`;

/**
 * The script: `withKey(headers)`, `keyFailure(response)` (an Error for 401 / 403, else null),
 * and the field wired to call `options.relist` (a page function's name) when the key changes.
 */
export function apiKeyScript(options: { relist: string }): string {
  return `const KEY = "saeserve-api-key";
document.getElementById("apikey").value = sessionStorage.getItem(KEY) || "";
document.getElementById("apikey").addEventListener("change", () => {
  sessionStorage.setItem(KEY, document.getElementById("apikey").value.trim());
  ${options.relist}();
});
function withKey(headers) {
  const key = sessionStorage.getItem(KEY);
  return key ? { ...headers, authorization: "Bearer " + key } : headers;
}
function keyFailure(r) {
  if (r.status === 401) return new Error("this service needs an API key: enter it at the top right");
  if (r.status === 403) return new Error("the API key was refused: check it at the top right");
  return null;
}`;
}
