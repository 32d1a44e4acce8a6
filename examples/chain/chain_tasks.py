"""The requirements of the two-stage chain in docs/results.md ("Chained requirements").

Stage 1 keeps the cart centred (rql4j's own cartpole-center add-on,
``rql4j_bridge.tasks.classic:cartpole_center_addon``: ``-|x| / 2.4`` per step); stage 2 customizes
the result of stage 1 again, to prefer pushing right (this module). Reward functions of rql4j's form
(docs/tasks.md, "Your own task").
"""


def push_right(obs, action, next_obs, reward, terminated, truncated, info):
    """+0.1 for each push to the right (action 1), else 0: a bonus, so ending the episode never pays."""
    return 0.1 if int(action) == 1 else 0.0
