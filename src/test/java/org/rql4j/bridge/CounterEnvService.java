package org.rql4j.bridge;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.atomic.AtomicInteger;
import org.rql4j.env.DType;
import org.rql4j.env.Space;
import org.rql4j.env.Tensor;
import org.rql4j.proto.v1.CloseRequest;
import org.rql4j.proto.v1.CloseResponse;
import org.rql4j.proto.v1.EnvServiceGrpc;
import org.rql4j.proto.v1.InfoColumn;
import org.rql4j.proto.v1.MakeRequest;
import org.rql4j.proto.v1.MakeResponse;
import org.rql4j.proto.v1.ResetRequest;
import org.rql4j.proto.v1.ResetResponse;
import org.rql4j.proto.v1.ServerInfoRequest;
import org.rql4j.proto.v1.ServerInfoResponse;
import org.rql4j.proto.v1.StepRequest;
import org.rql4j.proto.v1.StepResponse;

/**
 * A tiny Java implementation of the env contract for unit tests of the client: one env id,
 * "Counter-v0", whose copies count their steps (observation FLOAT32 [n, 1] = steps so far + seed),
 * pay the action as reward, put the action in info["echo"], and terminate after 3 steps
 * (SAME_STEP autoreset).
 */
class CounterEnvService extends EnvServiceGrpc.EnvServiceImplBase {

  final AtomicInteger closes = new AtomicInteger();
  final AtomicInteger steps = new AtomicInteger();
  private int numEnvs;
  private float[] counts;
  private float[] offsets;

  @Override
  public void getServerInfo(ServerInfoRequest request, StreamObserver<ServerInfoResponse> out) {
    out.onNext(ServerInfoResponse.newBuilder().setProtocol("rql4j.v1").build());
    out.onCompleted();
  }

  @Override
  public void make(MakeRequest request, StreamObserver<MakeResponse> out) {
    if (!request.getEnvId().equals("Counter-v0")) {
      out.onError(Status.NOT_FOUND.withDescription("no env id '" + request.getEnvId() + "'").asRuntimeException());
      return;
    }
    numEnvs = Math.max(1, request.getNumEnvs());
    counts = new float[numEnvs];
    offsets = new float[numEnvs];
    out.onNext(MakeResponse.newBuilder()
        .setEnvHandle("h1")
        .setNumEnvs(numEnvs)
        .setAutoresetMode(org.rql4j.proto.v1.AutoresetMode.SAME_STEP)
        .setObservationSpace(ProtoCodec.space(new Space.Box(new long[] {1}, DType.FLOAT32,
            new double[] {0}, new double[] {100})))
        .setActionSpace(ProtoCodec.space(new Space.Discrete(2, 0)))
        .build());
    out.onCompleted();
  }

  @Override
  public void reset(ResetRequest request, StreamObserver<ResetResponse> out) {
    for (int i = 0; i < numEnvs; i++) {
      counts[i] = 0;
      offsets[i] = request.getSeedsCount() == 0 ? 0 : request.getSeeds(0) + i;
    }
    out.onNext(ResetResponse.newBuilder().setObservation(ProtoCodec.value(obs(counts))).build());
    out.onCompleted();
  }

  private Tensor obs(float[] c) {
    float[] o = new float[numEnvs];
    for (int i = 0; i < numEnvs; i++) {
      o[i] = c[i] + offsets[i];
    }
    return Tensor.ofFloats(o, numEnvs, 1);
  }

  private StepResponse doStep(StepRequest request) {
    if (!request.getEnvHandle().equals("h1")) {
      throw Status.NOT_FOUND.withDescription("unknown env handle " + request.getEnvHandle()).asRuntimeException();
    }
    long[] actions = ProtoCodec.tensor(request.getAction().getTensor()).toLongArray();
    if (actions.length != numEnvs) {
      throw Status.INVALID_ARGUMENT.withDescription(
          "action batch has " + actions.length + " rows, env has " + numEnvs + " copies").asRuntimeException();
    }
    steps.incrementAndGet();
    double[] reward = new double[numEnvs];
    boolean[] term = new boolean[numEnvs];
    float[] finals = new float[numEnvs];
    boolean anyDone = false;
    for (int i = 0; i < numEnvs; i++) {
      counts[i]++;
      reward[i] = actions[i];
      if (counts[i] >= 3) {
        term[i] = true;
        anyDone = true;
        finals[i] = counts[i];
        counts[i] = 0;
      }
    }
    StepResponse.Builder b = StepResponse.newBuilder()
        .setObservation(ProtoCodec.value(obs(counts)))
        .setReward(ProtoCodec.tensor(Tensor.ofDoubles(reward)))
        .setTerminated(ProtoCodec.tensor(Tensor.ofBooleans(term)))
        .setTruncated(ProtoCodec.tensor(Tensor.ofBooleans(new boolean[numEnvs])))
        .putInfo("echo", InfoColumn.newBuilder()
            .setValues(ProtoCodec.tensor(Tensor.ofDoubles(reward)))
            .setPresent(ProtoCodec.tensor(Tensor.ofBooleans(filled(numEnvs)))).build());
    if (anyDone) {
      float[] f = new float[numEnvs];
      for (int i = 0; i < numEnvs; i++) {
        f[i] = term[i] ? finals[i] + offsets[i] : 0;
      }
      b.setFinalObservation(ProtoCodec.value(Tensor.ofFloats(f, numEnvs, 1)));
    }
    return b.build();
  }

  private static boolean[] filled(int n) {
    boolean[] b = new boolean[n];
    java.util.Arrays.fill(b, true);
    return b;
  }

  @Override
  public void step(StepRequest request, StreamObserver<StepResponse> out) {
    try {
      out.onNext(doStep(request));
      out.onCompleted();
    } catch (RuntimeException e) {
      out.onError(e);
    }
  }

  @Override
  public StreamObserver<StepRequest> stepStream(StreamObserver<StepResponse> out) {
    return new StreamObserver<>() {
      @Override
      public void onNext(StepRequest request) {
        try {
          out.onNext(doStep(request));
        } catch (RuntimeException e) {
          out.onError(e);
        }
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {
        out.onCompleted();
      }
    };
  }

  @Override
  public void close(CloseRequest request, StreamObserver<CloseResponse> out) {
    closes.incrementAndGet();
    out.onNext(CloseResponse.getDefaultInstance());
    out.onCompleted();
  }
}
