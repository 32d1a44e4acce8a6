package org.rql4j.bridge;

/**
 * Child-JVM probe for {@link PythonServerIT}: starts an env server (of the transport named by
 * the first argument, gRPC by default), prints its pid as
 * {@code SERVER_PID=<pid>}, then sleeps until it is killed.
 */
public final class OrphanProbe {

  private OrphanProbe() {}

  public static void main(String[] args) throws Exception {
    BridgeTransport transport = args.length > 0 ? BridgeTransport.valueOf(args[0]) : BridgeTransport.GRPC;
    PythonServer server = PythonServer.builder().optTransport(transport).start();
    System.out.println("SERVER_PID=" + server.pid());
    System.out.flush();
    Thread.sleep(600_000);
  }
}
