from django.db import migrations


def create_default_policy(apps, schema_editor):
    Policy = apps.get_model("tokens", "Policy")
    if not Policy.objects.filter(is_default=True).exists():
        Policy.objects.create(name="Default", is_default=True)


class Migration(migrations.Migration):
    dependencies = [("tokens", "0001_initial")]

    operations = [migrations.RunPython(create_default_policy, migrations.RunPython.noop)]
