import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from inventory.models import StaffProfile


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.fr")
    password = factory.django.Password("s3cret-pass!")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))

    @factory.post_generation
    def locations(self, create, extracted, **kwargs):
        if create and extracted is not None:
            profile, _ = StaffProfile.objects.get_or_create(user=self)
            profile.locations.set(extracted)
