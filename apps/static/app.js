() => {
  // Gradio 6's sketchpad starts (and restarts after "Clear canvas") with no tool selected, so a
  // stroke does nothing until the user clicks the brush. Select the brush for them whenever a
  // visible sketchpad marked `brush-first` has no tool highlighted.
  const selectBrush = () => {
    for (const editor of document.querySelectorAll(".brush-first")) {
      const tools = editor.querySelectorAll("button.quite-round");
      if (!tools.length || editor.querySelector("button.quite-round.highlight")) continue;
      const brush = editor.querySelector('button[aria-label="Brush"]') || tools[0];
      if (brush.offsetParent !== null) brush.click();
    }
  };
  let scheduled = false;
  new MutationObserver(() => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      selectBrush();
    });
  }).observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ["class"] });
  selectBrush();
}
