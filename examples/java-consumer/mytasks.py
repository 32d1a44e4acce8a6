"""The requirement, as the env server imports it (only a module named by the run is imported)."""


def stay_left(obs, action, next_obs, reward, terminated, truncated, info):
    # CartPole: one point per step that ends with the cart on the left half of the track
    return 1.0 if next_obs[0] < 0.0 else 0.0
