"""The requirements of the "user" tasks of the KL-budget table (examples/kl-budget).

Reward functions of rql4j's add-on form (docs/tasks.md, "Your own task"), for envs the user priors in
``../priors`` (``acrobot-lessleft-dqn``, ``pendulum-lowtorque-sac``, ``mountaincar-v0-dqn``,
``invertedpendulum-sac``, ``cartpole-v1-ppo``, ``cartpole-v1-dqn``) were trained on with the env's own reward only
(``train_priors.py``); no prior saw these requirements. Use them from this folder with
``--addon kl_tasks:FUNCTION``.

The first two are penalties, which is safe here: Acrobot-v1 ends an episode only on success (the tip
above the line), which the basic reward already pays for, and Pendulum-v1 never ends one early
(200-step time limit), so ending an episode is never a way to stop paying.

The env action arrives as the learner sent it: an ``int`` (or NumPy integer / 0-d or 1-element
array) for a Discrete space, a NumPy array of shape ``(1,)`` for Pendulum's Box. Both functions
read it through ``np.asarray(...).reshape(-1)[0]``, so any of these forms work.
"""

import numpy as np


def acrobot_less_left(obs, action, next_obs, reward, terminated, truncated, info):
    """Acrobot-v1, "use the left torque less": ``-0.1`` for each step with action 0, else 0.

    Action 0 applies -1 torque on the actuated joint (1: none, 2: +1). The basic reward is the
    env's own (-1 per step until the tip swings above the line).
    """
    return -0.1 if int(np.asarray(action).reshape(-1)[0]) == 0 else 0.0


def pendulum_low_torque(obs, action, next_obs, reward, terminated, truncated, info):
    """Pendulum-v1, "keep the torque within 1": ``-max(0, |a| - 1)`` per step.

    ``a`` is the env action, the torque in Pendulum's Box [-2, 2], taken as the env applies it
    (clipped to [-2, 2], as Pendulum-v1 clips it), so the penalty lies in [-1, 0]. The basic reward
    is the env's own (``-(theta^2 + 0.1 theta_dot^2 + 0.001 a^2)``).
    """
    a = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -2.0, 2.0))
    return min(0.0, 1.0 - abs(a))  # = -max(0, |a| - 1), without a -0.0


def pendulum_quiet_top(obs, action, next_obs, reward, terminated, truncated, info):
    """Pendulum-v1, "hold it up quietly": ``-|a|`` per step while the pendulum is within 0.3 rad of upright.

    ``obs`` is the observation before the step, ``(cos theta, sin theta, theta_dot)``; upright is
    ``theta = 0``, so "within 0.3 rad" is ``cos theta > cos 0.3``. ``a`` is the torque as the env applies
    it (clipped to [-2, 2]). The swing-up is free; holding the pendulum up costs what the motor spends
    there. The basic reward is the env's own.
    """
    a = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -2.0, 2.0))
    return -abs(a) if float(np.asarray(obs, dtype=np.float64).reshape(-1)[0]) > np.cos(0.3) else 0.0


def acrobot_slow_first(obs, action, next_obs, reward, terminated, truncated, info):
    """Acrobot-v1, "spare the first joint": ``-0.1`` per step while the first joint turns faster than 3 rad/s.

    ``next_obs[4]`` is the first joint's angular velocity after the step (Acrobot-v1's observation is
    ``cos/sin theta1, cos/sin theta2, theta1_dot, theta2_dot``). The basic reward is the env's own.
    """
    return -0.1 if abs(float(np.asarray(next_obs, dtype=np.float64).reshape(-1)[4])) > 3.0 else 0.0


def acrobot_no_braking(obs, action, next_obs, reward, terminated, truncated, info):
    """Acrobot-v1, "do not brake the swing": ``-0.1`` per step whose torque opposes the second joint's motion.

    Action 0 applies -1 torque on the second joint, 2 applies +1, 1 none; ``obs[5]`` is the second joint's
    angular velocity before the step. A torque against that velocity takes energy out of the swing, which the
    swing-up has to put back. The basic reward is the env's own.
    """
    torque = int(np.asarray(action).reshape(-1)[0]) - 1
    return -0.1 if torque * float(np.asarray(obs, dtype=np.float64).reshape(-1)[5]) < 0 else 0.0


def mountaincar_stay_right(obs, action, next_obs, reward, terminated, truncated, info):
    """MountainCar-v0, "do not back far up the left hill": ``-0.1`` per step that ends left of x = -0.9.

    ``next_obs[0]`` is the car's position after the step (the valley's bottom is near -0.52, the left
    wall at -1.2, the goal at 0.5). Building up speed needs some backing up; this asks for less of it.
    The basic reward is the env's own (-1 per step until the goal).
    """
    return -0.1 if float(np.asarray(next_obs, dtype=np.float64).reshape(-1)[0]) < -0.9 else 0.0


def invpendulum_centered(obs, action, next_obs, reward, terminated, truncated, info):
    """InvertedPendulum-v5, "keep the cart near the middle": ``-|x|`` per step, and ``-200`` on a fall.

    ``next_obs[0]`` is the cart's position on its rail after the step (it starts within 0.01 of 0; the
    rail ends at +-1). InvertedPendulum-v5 ends an episode when the pole falls (``terminated``), so a
    per-step penalty alone would make falling pay (docs/tasks.md, "Your own task"): the fall is charged
    more than the penalty of a whole 1000-step episode at the prior's drift (about -120). The basic
    reward is the env's own (+1 per step the pole stays up, 1000 steps at most).
    """
    return -abs(float(np.asarray(next_obs, dtype=np.float64).reshape(-1)[0])) - (200.0 if terminated else 0.0)



def cartpole_slow_cart(obs, action, next_obs, reward, terminated, truncated, info):
    """CartPole-v1, "move the cart gently": ``-|x_dot|`` per step (the cart's speed after it), and ``-100`` on a fall.

    ``next_obs[1]`` is the cart's velocity after the step. CartPole-v1 ends an episode when the pole falls or the
    cart leaves the track (``terminated``), so a per-step penalty alone would make ending it pay: the fall is
    charged more than a whole 500-step episode at the prior's speed (about -54). The basic reward is the env's
    own (+1 per step, 500 steps at most).
    """
    return -abs(float(np.asarray(next_obs, dtype=np.float64).reshape(-1)[1])) - (100.0 if terminated else 0.0)


def cartpole_steady_pole(obs, action, next_obs, reward, terminated, truncated, info):
    """CartPole-v1, "keep the pole steady": ``-|theta_dot|`` per step (the pole's angular velocity after it), ``-100`` on a fall.

    ``next_obs[3]`` is the pole's angular velocity after the step, in rad/s. The fall is charged as in
    :func:`cartpole_slow_cart` (the prior pays about -79 over a whole episode). The basic reward is the env's own.
    """
    return -abs(float(np.asarray(next_obs, dtype=np.float64).reshape(-1)[3])) - (100.0 if terminated else 0.0)


def cartpole_right_half(obs, action, next_obs, reward, terminated, truncated, info):
    """CartPole-v1, "keep to the right half of the track": ``-0.1`` per step that ends with the cart left of the
    centre (``x < 0``), and ``-100`` on a fall.

    ``next_obs[0]`` is the cart's position after the step (the track ends at +-2.4; episodes start within 0.05
    of 0). The fall (the pole past 12 degrees or the cart off the track, ``terminated``) is charged more than a
    whole 500-step episode on the left half (-50), so ending an episode never pays. The basic reward is the
    env's own (+1 per step, 500 steps at most).
    """
    x = float(np.asarray(next_obs, dtype=np.float64).reshape(-1)[0])
    return (-0.1 if x < 0 else 0.0) - (100.0 if terminated else 0.0)


def cartpole_left_half(obs, action, next_obs, reward, terminated, truncated, info):
    """CartPole-v1, "keep to the left half of the track": ``-0.1`` per step that ends with the cart right of the
    centre (``x > 0``), and ``-100`` on a fall.

    The mirror of :func:`cartpole_right_half`, for a prior that drifts right (the SB3 DQN prior
    ``cartpole-v1-dqn`` spends about 483 of its 500 steps right of the centre). The basic reward is the env's own.
    """
    x = float(np.asarray(next_obs, dtype=np.float64).reshape(-1)[0])
    return (-0.1 if x > 0 else 0.0) - (100.0 if terminated else 0.0)


def cartpole_left_bonus(obs, action, next_obs, reward, terminated, truncated, info):
    """CartPole-v1, "keep to the left half of the track", written as a bonus: ``+0.1`` per step that ends with the
    cart left of the centre (``x < 0``).

    The same wish as :func:`cartpole_left_half`, in the other form docs/tasks.md ("Your own task") gives for an env
    that ends episodes on failure: a fall ends the bonus, so ending an episode never pays, with no large charge in
    the add-on's values. The basic reward is the env's own.
    """
    x = float(np.asarray(next_obs, dtype=np.float64).reshape(-1)[0])
    return 0.1 if x < 0 else 0.0


def cartpole_right_bonus(obs, action, next_obs, reward, terminated, truncated, info):
    """CartPole-v1, "keep to the right half of the track", written as a bonus: ``+0.1`` per step that ends with the
    cart right of the centre (``x > 0``); the bonus form of :func:`cartpole_right_half` (see
    :func:`cartpole_left_bonus`). The basic reward is the env's own.
    """
    x = float(np.asarray(next_obs, dtype=np.float64).reshape(-1)[0])
    return 0.1 if x > 0 else 0.0
