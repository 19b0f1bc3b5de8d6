"""Compile the .po catalogues to .mo without needing GNU gettext on the machine (``make run`` works on a
fresh machine). Uses polib; Django's ``compilemessages`` gives the same files where msgfmt exists."""

import os
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
                # Written aside then renamed: a process starting meanwhile (``make run`` migrates while
                # this runs) reads the old catalogue or the new one, never half of one.
                target = po_path.with_suffix(".mo")
                partial = target.with_name(f".{target.name}.{os.getpid()}")
                po.save_as_mofile(str(partial))
                os.replace(partial, target)
                count += 1
                self.stdout.write(f"compiled {po_path} ({po.percent_translated()}% translated)")
        self.stdout.write(self.style.SUCCESS(f"{count} catalogue(s) compiled"))
