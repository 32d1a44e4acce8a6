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
import org.rql4j.proto.v1.OpenStepSocketRequest;
import org.rql4j.proto.v1.OpenStepSocketResponse;
import org.rql4j.proto.v1.StepSocketError;
import org.rql4j.proto.v1.StepSocketReply;
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

  /** The contract revision it reports (a test may pretend to be an older server). */
  int revision = PythonServer.PROTOCOL_REVISION;

  final AtomicInteger closes = new AtomicInteger();
  final AtomicInteger steps = new AtomicInteger();
  private int numEnvs;
  private float[] counts;
  private float[] offsets;

  @Override
  public void getServerInfo(ServerInfoRequest request, StreamObserver<ServerInfoResponse> out) {
    out.onNext(ServerInfoResponse.newBuilder().setProtocol("rql4j.v1")
        .setProtocolRevision(revision).build());
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

  /** Open step sockets (a Java twin of python-bridge's step_socket), closed by {@link #killSockets}. */
  final java.util.List<java.net.Socket> sockets = new java.util.concurrent.CopyOnWriteArrayList<>();

  /** false: answer OpenStepSocket with UNIMPLEMENTED, as a server from before the step socket. */
  volatile boolean socketsSupported = true;

  @Override
  public void openStepSocket(OpenStepSocketRequest request, StreamObserver<OpenStepSocketResponse> out) {
    if (!socketsSupported) {
      super.openStepSocket(request, out);
      return;
    }
    try {
      java.net.ServerSocket listener = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
      byte[] token = new byte[16];
      new java.security.SecureRandom().nextBytes(token);
      Thread t = new Thread(() -> serveSocket(listener, token), "counter-step-socket");
      t.setDaemon(true);
      t.start();
      out.onNext(OpenStepSocketResponse.newBuilder().setHost("127.0.0.1").setPort(listener.getLocalPort())
          .setToken(com.google.protobuf.ByteString.copyFrom(token)).setAcceptTimeoutS(30).build());
      out.onCompleted();
    } catch (java.io.IOException e) {
      out.onError(Status.UNAVAILABLE.withDescription(e.toString()).asRuntimeException());
    }
  }

  private void serveSocket(java.net.ServerSocket listener, byte[] token) {
    try (listener; java.net.Socket s = listener.accept()) {
      sockets.add(s);
      java.io.DataInputStream in = new java.io.DataInputStream(s.getInputStream());
      java.io.DataOutputStream out = new java.io.DataOutputStream(s.getOutputStream());
      byte[] got = new byte[16];
      in.readFully(got);
      if (!java.util.Arrays.equals(got, token)) {
        return;
      }
      while (true) {
        byte[] frame = new byte[in.readInt()];
        in.readFully(frame);
        StepSocketReply.Builder reply = StepSocketReply.newBuilder();
        try {
          synchronized (this) {
            reply.setResponse(doStep(StepRequest.parseFrom(frame)));
          }
        } catch (io.grpc.StatusRuntimeException e) {
          reply.setError(StepSocketError.newBuilder().setCode(e.getStatus().getCode().value())
              .setMessage(e.getStatus().getDescription()));
        }
        byte[] bytes = reply.build().toByteArray();
        out.writeInt(bytes.length);
        out.write(bytes);
        out.flush();
      }
    } catch (java.io.IOException e) {
      // the client went away, or killSockets()
    }
  }

  /** Closes every step socket (as if the server process died). */
  void killSockets() throws java.io.IOException {
    for (java.net.Socket s : sockets) {
      s.close();
    }
  }

  @Override
  public void close(CloseRequest request, StreamObserver<CloseResponse> out) {
    closes.incrementAndGet();
    out.onNext(CloseResponse.getDefaultInstance());
    out.onCompleted();
  }
}
