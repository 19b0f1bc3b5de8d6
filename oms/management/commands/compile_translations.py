"""Compile the .po catalogues to .mo without needing GNU gettext on the machine (``make run`` works on a
fresh machine). Uses polib; Django's ``compilemessages`` gives the same files where msgfmt exists."""

from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Compile every locale/*/LC_MESSAGES/*.po into its .mo file."

    def handle(self, *args, **options):
        count = 0
        for locale_dir in settings.LOCALE_PATHS:
            for po_path in sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po")):
                po = polib.pofile(str(po_path))
                po.save_as_mofile(str(po_path.with_suffix(".mo")))
                count += 1
                self.stdout.write(f"compiled {po_path} ({po.percent_translated()}% translated)")
        self.stdout.write(self.style.SUCCESS(f"{count} catalogue(s) compiled"))
