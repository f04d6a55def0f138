"""The demo's event rules, registered in ``DemoConfig.ready()``:

* a comment on a post notifies the post's author (push + inbox), unless they wrote it themselves;
* publishing a post (``published`` changes to True) announces it to the ``news`` topic.
"""

from django.utils.translation import gettext_lazy as _

from django_push.compose.events import Rule

new_comment = Rule(
    model="demo.Comment",
    on="create",
    notification_type="comment",
    recipients=lambda comment: comment.post.author,
    skip_if=lambda comment: comment.author_id == comment.post.author_id,
    title=_("New comment on “{{ comment.post.title }}”"),
    body="{{ comment.author }}: {{ comment.body|truncatechars:100 }}",
    data=lambda comment: {"post": comment.post_id, "comment": comment.pk},
    options=lambda comment: {"thread_id": f"post-{comment.post_id}"},
)

post_published = Rule(
    model="demo.Post",
    on="update",
    field="published",
    changes_to=True,
    notification_type="announcement",
    recipients=lambda post: "news",
    title=_("New post: {{ post.title }}"),
    body="{{ post.body|truncatechars:120 }}",
    data=lambda post: {"post": post.pk},
)

RULES = [new_comment, post_published]
