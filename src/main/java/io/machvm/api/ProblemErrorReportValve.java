package io.machvm.api;

import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.valves.ErrorReportValve;

/**
 * Tomcat's error report for requests that never reach the application (an undecodable URI, a malformed request
 * line…): a problem instead of Tomcat's HTML page.
 */
public class ProblemErrorReportValve extends ErrorReportValve {

    @Override
    protected void report(Request request, Response response, Throwable throwable) {
        int status = response.getStatus();
        if (status < 400 || response.getContentWritten() > 0 || response.isCommitted()) {
            return;
        }
        String instance = request.getDecodedRequestURIMB() == null || request.getDecodedRequestURIMB().isNull()
                ? String.valueOf(request.getRequestURI())
                : request.getDecodedRequestURI();
        int reported = status >= 500 ? 500 : status;
        ProblemWriter.write(response.getResponse(), reported,
                status >= 500 ? io.machvm.vm.KernReturn.KERN_FAILURE : io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT,
                status >= 500 ? "the service failed unexpectedly" : "the request was refused (" + status + ")",
                instance == null || instance.equals("null") ? "" : instance, null);
    }
}
