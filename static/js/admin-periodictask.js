/* django-celery-beat's periodic task form in Django admin (templates/admin/djcelery/
   change_periodictask_form.html): the crontab field's help text also says the chosen schedule in words.
   Its original is an inline script, which the Content-Security-Policy refuses. */
(function () {
  "use strict";
  var $ = window.django && window.django.jQuery;
  var data = document.getElementById("readable-crontabs");
  if (!$ || !data) return;
  var readableCrontabs = JSON.parse(data.textContent);
  var help = $(".field-crontab .help");
  var originalHelp = help.html();
  $(".field-crontab_translation").hide();
  $(".field-crontab").on("change", function () {
    var words = readableCrontabs[$("#id_crontab").val()];
    help.html(originalHelp).append($("<br>"), document.createTextNode("Translation: " + (words || "")));
  });
})();
