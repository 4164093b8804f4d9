/* The request helper of the connected fields: one options request at a time per field.
 *
 * A field asks again whenever what it depends on changes, so answers can arrive out of
 * order; only the answer to the latest request counts (older ones resolve to null and
 * are aborted). A 503 ("… is busy") is asked again after its Retry-After, twice at
 * most: by then the call that kept the datasource busy has usually filled the cache.
 */

const RETRIES = 2;
const MAX_RETRY_SECONDS = 5;

export class OptionsRequest {
  constructor(url) {
    this.url = url;
    this.seq = 0;
    this.controller = null;
  }

  /* Resolves to the JSON answer ({options, total, …}), or null when a newer request
     (or cancel()) replaced this one; rejects with an Error whose message says why. */
  send(params, retries = RETRIES) {
    const seq = ++this.seq;
    if (this.controller) this.controller.abort();
    const controller = new AbortController();
    this.controller = controller;
    return fetch(this.url + "?" + params.toString(), {
      headers: { Accept: "application/json" }, credentials: "same-origin", signal: controller.signal
    }).then((response) => {
      if (response.status === 503 && retries > 0) {
        const seconds = Math.min(parseInt(response.headers.get("Retry-After"), 10) || 1, MAX_RETRY_SECONDS);
        return new Promise((resolve) => { setTimeout(resolve, seconds * 1000); }).then(() => {
          return seq === this.seq ? this.send(params, retries - 1) : null;
        });
      }
      return response.json().catch(() => null).then((body) => {
        if (seq !== this.seq) return null;
        if (!response.ok || !body || !Array.isArray(body.options)) {
          throw new Error((body && body.error) || "the server answered HTTP " + response.status + ".");
        }
        return body;
      });
    }, (error) => {
      if (controller.signal.aborted || seq !== this.seq) return null;
      throw new Error("the server did not answer (" + (error && error.message ? error.message : "network error") + ").");
    });
  }

  /* Forget the request in flight: its answer, when it comes, is ignored. */
  cancel() {
    this.seq++;
    if (this.controller) this.controller.abort();
    this.controller = null;
  }
}
