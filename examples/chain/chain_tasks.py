"""The requirements of the two-stage chain in docs/results.md ("Chained requirements").

Stage 1 keeps the cart centred (rql4j's own cartpole-center add-on,
``rql4j_bridge.tasks.classic:cartpole_center_addon``: ``-|x| / 2.4`` per step); stage 2 customizes
the result of stage 1 again, to keep the cart on the left half (``stay_left``). ``push_right`` is the
second requirement tried first: CartPole cannot push right more often than left for long without
leaving the track, and neither the prior nor the customized policy did (docs/results.md). Reward
functions of rql4j's form (docs/tasks.md, "Your own task"), written as bonuses: ending an episode
early never pays.
"""


def stay_left(obs, action, next_obs, reward, terminated, truncated, info):
    """+1 for each step that leaves the cart on the left half (x < 0), else 0."""
    return 1.0 if next_obs[0] < 0.0 else 0.0


def push_right(obs, action, next_obs, reward, terminated, truncated, info):
    """+0.1 for each push to the right (action 1), else 0."""
    return 0.1 if int(action) == 1 else 0.0
