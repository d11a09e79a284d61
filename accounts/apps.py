from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from accounts.authentication import forget_user

        user_model = self.get_model("User")
        post_save.connect(forget_user, sender=user_model, dispatch_uid="accounts:forget-user")
        post_delete.connect(forget_user, sender=user_model, dispatch_uid="accounts:forget-user-delete")
