// "Listen" beside a voice choice: plays a short sample of the selected voice (GET /companies/<slug>/voice-sample).
document.querySelectorAll("button.listen").forEach(function (button) {
  button.addEventListener("click", function () {
    var select = document.querySelector('select[data-voice-lang="' + button.dataset.lang + '"]');
    var url = button.dataset.sample + "?language=" + encodeURIComponent(button.dataset.lang) +
      "&voice=" + encodeURIComponent(select ? select.value : "");
    new Audio(url).play();
  });
});
