// The delete buttons: the page's own script (the Content-Security-Policy allows no inline one).
for (const button of document.querySelectorAll("button.delete")) {
  button.addEventListener("click", async () => {
    const key = button.dataset.key.split("/").map(encodeURIComponent).join("/");
    const answer = await fetch(`/api/photos/${key}`, { method: "DELETE" });
    if (answer.ok) { button.closest("figure").remove(); }
    else { alert(`Could not delete: ${(await answer.json()).error}`); }
  });
}

// Direct uploads (S3): each file goes from the browser to the bucket with a presigned POST,
// with its progress shown, and the app then checks and stores it. Without JavaScript, or on
// the filesystem, the form posts to /upload as before.
const form = document.querySelector("form.upload");
if (form && form.dataset.direct === "true") {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const files = [...form.querySelector("input[type=file]").files];
    const list = document.getElementById("progress");
    const query = new URLSearchParams();
    for (const file of files) {
      const row = document.createElement("li");
      row.className = "upload-progress";
      row.textContent = `${file.name}: waiting`;
      list.append(row);
      try {
        const signed = await askJson("/api/uploads", { name: file.name, size: file.size, type: file.type });
        await sendToBucket(signed, file, (done) => { row.textContent = `${file.name}: ${Math.round(done * 100)}%`; });
        row.textContent = `${file.name}: checking`;
        await askJson(`/api/uploads/${signed.id}/confirm`);
        row.textContent = `${file.name}: saved`;
        query.append("saved", file.name);
      } catch (error) {
        row.textContent = `${file.name}: ${error.message}`;
        query.append("rejected", `${file.name}\n${error.message}`);
      }
    }
    location.assign(`/?${query}`);
  });
}

async function askJson(url, body) {
  const answer = await fetch(url, {
    method: "POST",
    headers: { "Accept": "application/json", "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const result = await answer.json();
  if (!answer.ok) { throw new Error(result.error || `HTTP ${answer.status}`); }
  return result;
}

function sendToBucket(signed, file, onProgress) {
  return new Promise((resolve, reject) => {
    const body = new FormData();
    for (const [name, value] of Object.entries(signed.fields)) { body.append(name, value); }
    body.append("file", file); // last: S3 reads the policy's fields first
    const request = new XMLHttpRequest();
    request.open("POST", signed.url);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) { onProgress(event.loaded / event.total); }
    });
    request.addEventListener("load", () => {
      if (request.status < 300) { resolve(); } else { reject(new Error(`the bucket refused it (HTTP ${request.status})`)); }
    });
    request.addEventListener("error", () => reject(new Error("the bucket could not be reached (check its CORS rules: oppdemo storage check --origin)")));
    request.send(body);
  });
}
