"""The requirement of the README's "Customize your own policy" example and of docs/results.md's
"CartPole-v1 + mytasks:stay_left" table: keep the cart on the left half of the track.

A reward function of rql4j's form (docs/tasks.md, "Your own task"). It is a bonus, not a penalty:
CartPole ends an episode when the pole falls, and a learner that sees only this reward must never
gain by ending the episode early.
"""


def stay_left(obs, action, next_obs, reward, terminated, truncated, info):
    """+1 for each step that leaves the cart on the left half (x < 0), else 0."""
    return 1.0 if next_obs[0] < 0.0 else 0.0
