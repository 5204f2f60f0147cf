// The delete buttons: the page's own script (the Content-Security-Policy allows no inline one).
for (const button of document.querySelectorAll("button.delete")) {
  button.addEventListener("click", async () => {
    const key = button.dataset.key.split("/").map(encodeURIComponent).join("/");
    const answer = await fetch(`/api/photos/${key}`, { method: "DELETE" });
    if (answer.ok) { button.closest("figure").remove(); }
    else { alert(`Could not delete: ${(await answer.json()).error}`); }
  });
}
