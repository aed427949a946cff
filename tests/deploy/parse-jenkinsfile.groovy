// Compiles each Jenkinsfile given on the command line with Groovy's compiler up to class
// generation, without running it: syntax errors fail with the file, line and column.
// The declarative `pipeline { … }` DSL is plain Groovy method calls with closures, so it compiles.
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.Phases

int failed = 0
for (String name : args) {
  def unit = new CompilationUnit()
  unit.addSource(new File(name))
  try {
    unit.compile(Phases.CLASS_GENERATION)
    println "parsed ${name}"
  } catch (Exception e) {
    System.err.println(e.message)
    failed++
  }
}
System.exit(failed == 0 ? 0 : 1)
