package org.rql4j.bridge;

import org.rql4j.env.ResetRequest;
import org.rql4j.env.Tensor;
import org.rql4j.env.Value;
import org.rql4j.env.VectorReset;
import org.rql4j.env.VectorStep;
import org.rql4j.proto.v1.MakeRequest;
import org.rql4j.proto.v1.ResetResponse;
import org.rql4j.proto.v1.StepRequest;
import org.rql4j.proto.v1.StepResponse;

/** The env calls' messages, built and read the same way by every transport's {@code RemoteVectorEnv}. */
final class EnvMessages {

  private EnvMessages() {}

  /** The {@code MakeRequest} for {@code spec}. */
  static MakeRequest make(EnvSpec spec) {
    MakeRequest.Builder req = MakeRequest.newBuilder()
        .setEnvId(spec.envId())
        .setNumEnvs(spec.numEnvs())
        .setAutoresetMode(ProtoCodec.autoreset(spec.autoresetMode()))
        .setMaxEpisodeSteps(spec.maxEpisodeSteps())
        .setWorkers(spec.workers());
    if (spec.addonReward() != null) {
      req.setAddonReward(spec.addonReward()).setRewardVariant(switch (spec.rewardVariant()) {
        case BASIC -> org.rql4j.proto.v1.RewardVariant.REWARD_BASIC;
        case ADDON -> org.rql4j.proto.v1.RewardVariant.REWARD_ADDON;
        case TOTAL -> org.rql4j.proto.v1.RewardVariant.REWARD_TOTAL;
      });
    }
    if (spec.kwargsJson() != null) {
      req.setKwargsJson(spec.kwargsJson());
    }
    return req.build();
  }

  /** The {@code ResetRequest} message for {@code request} on the env {@code handle} of {@code numEnvs} copies. */
  static org.rql4j.proto.v1.ResetRequest reset(String handle, String envId, int numEnvs, ResetRequest request) {
    org.rql4j.proto.v1.ResetRequest.Builder req =
        org.rql4j.proto.v1.ResetRequest.newBuilder().setEnvHandle(handle);
    for (long s : request.seeds()) {
      req.addSeeds(s);
    }
    if (request.mask() != null) {
      if (request.mask().length != numEnvs) {
        throw new IllegalArgumentException("reset mask has " + request.mask().length
            + " entries but " + envId + " has " + numEnvs + " copies");
      }
      req.setResetMask(ProtoCodec.tensor(Tensor.ofBooleans(request.mask())));
    }
    if (request.optionsJson() != null) {
      req.setOptionsJson(request.optionsJson());
    }
    return req.build();
  }

  static VectorReset reset(ResetResponse resp) {
    return new VectorReset(ProtoCodec.value(resp.getObservation()), ProtoCodec.info(resp.getInfoMap()));
  }

  static StepRequest step(String handle, Value actions) {
    return StepRequest.newBuilder().setEnvHandle(handle).setAction(ProtoCodec.value(actions)).build();
  }

  static VectorStep step(StepResponse resp) {
    return new VectorStep(
        ProtoCodec.value(resp.getObservation()),
        ProtoCodec.tensor(resp.getReward()).toDoubleArray(),
        ProtoCodec.tensor(resp.getTerminated()).toBooleanArray(),
        ProtoCodec.tensor(resp.getTruncated()).toBooleanArray(),
        ProtoCodec.info(resp.getInfoMap()),
        resp.hasFinalObservation() ? ProtoCodec.value(resp.getFinalObservation()) : null);
  }
}
